"""Output for machines: full-width tables off a terminal, JSON, progress that suits a log."""

from __future__ import annotations

import io
import json
import math

import pytest
from rich.table import Table

from auditor import output, progress


def test_off_a_terminal_a_wide_table_prints_whole(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # what rich would otherwise squeeze into
    values = [f"{0.1 + i / 1000:.6f}" for i in range(24)]
    table = Table(title="wide")
    for i in range(len(values)):
        table.add_column(f"metric_{i}")
    table.add_row(*values)
    output.console().print(table)
    out = capsys.readouterr().out
    assert "…" not in out and "\x1b[" not in out  # nothing cut, no colour codes in a log
    for v in values:
        assert v in out
    assert max(len(line) for line in out.splitlines()) > 80


def test_print_json_is_one_parseable_document_without_nan(capsys):
    output.print_json({"ap": 0.5, "auroc": math.nan, "rows": [{"f1": math.inf}], "name": "Zürich"})
    data = json.loads(capsys.readouterr().out)
    assert data == {"ap": 0.5, "auroc": None, "rows": [{"f1": None}], "name": "Zürich"}


def test_off_a_terminal_progress_is_a_few_whole_lines(monkeypatch):
    monkeypatch.delenv(progress.MODE_ENV, raising=False)
    log = io.StringIO()  # not a terminal
    bar = progress.progress_bar(range(5000), desc="crossval (probe)", unit="fold", file=log)
    assert sum(1 for _ in bar) == 5000
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    # thousands of updates inside one interval: just the final line
    assert len(lines) == 1 and lines[0].startswith("crossval (probe): 100%") and "5000/5000" in lines[0]


def test_line_progress_prints_at_most_once_per_interval_and_once_at_the_end():
    log = io.StringIO()
    bar = progress.LineProgress(desc="predict", total=10, unit="word", file=log, interval=0.0)
    for _ in range(10):
        bar.update(1)
    bar.close()
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("predict: 100%")  # the final line is not repeated
    quiet = io.StringIO()
    with progress.LineProgress(desc="train", total=100, unit="step", file=quiet, interval=3600) as bar:
        bar.update(40)
        bar.set_postfix(eval_f1="0.512")
    assert quiet.getvalue().count("\n") == 1 and "40/100" in quiet.getvalue() and "eval_f1=0.512" in quiet.getvalue()


def test_nested_bars_print_nothing_off_a_terminal_and_vanish_on_one(monkeypatch):
    log = io.StringIO()
    with progress.progress_bar(total=100, desc="predict", nested=True, file=log) as bar:
        bar.update(100)
    assert log.getvalue() == ""
    monkeypatch.setenv(progress.MODE_ENV, "bars")  # as on a terminal
    screen = io.StringIO()
    bar = progress.progress_bar(total=100, desc="predict", nested=True, file=screen, mininterval=0)
    bar.update(50)
    bar.close()
    assert "predict" in screen.getvalue()  # it was shown while running
    assert screen.getvalue().split("\r")[-1].strip() == ""  # and cleared when done
    kept = io.StringIO()
    with progress.progress_bar(total=3, desc="crossval", file=kept) as bar:
        bar.update(3)
    assert kept.getvalue().rstrip().split("\r")[-1].startswith("crossval: 100%")  # a top-level bar stays


def test_off_a_terminal_the_cli_slows_bars_of_code_that_calls_tqdm_itself(tmp_path):
    """In a fresh process, as `auditor` starts: tqdm must not be imported before the TQDM_*
    defaults are set, or it never sees them."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, os\n"
        "import auditor.cli\n"
        "from auditor.progress import quiet_logs_environment\n"
        "quiet_logs_environment()\n"
        "from tqdm.auto import tqdm\n"
        "bar = tqdm(total=3, file=open(os.devnull, 'w'))\n"
        "print(bar.mininterval, bar.delay)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TQDM_") and k != progress.MODE_ENV}
    with open(tmp_path / "log", "w") as log:  # stderr is a file, as in a batch job
        done = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=log, text=True, timeout=60)
    assert done.returncode == 0, (tmp_path / "log").read_text()
    assert [float(x) for x in done.stdout.split()] == [progress.LOG_INTERVAL, progress.LOG_INTERVAL]


def test_cli_quiets_direct_tqdm_users_off_a_terminal(monkeypatch):
    monkeypatch.delenv(progress.MODE_ENV, raising=False)
    env: dict = {}
    progress.quiet_logs_environment(env)  # pytest's stderr is not a terminal
    assert float(env["TQDM_MININTERVAL"]) >= 5 and float(env["TQDM_DELAY"]) >= 5
    monkeypatch.setenv(progress.MODE_ENV, "bars")
    env = {}
    progress.quiet_logs_environment(env)
    assert env == {}


@pytest.mark.parametrize("argv", [["run"], ["demo"], ["crossval"], ["tag"], ["analyze"], ["curve"]])
def test_commands_that_compute_take_threads(argv):
    from typer.testing import CliRunner

    from auditor.cli import app

    help_text = CliRunner().invoke(app, [*argv, "--help"], terminal_width=200).output
    assert "--threads" in help_text


@pytest.mark.parametrize(
    "argv", [["run"], ["demo"], ["crossval"], ["tag"], ["analyze"], ["curve"], ["evaluate-detection"], ["inspect"], ["apply"]]
)
def test_commands_that_print_tables_take_json(argv):
    from typer.testing import CliRunner

    from auditor.cli import app

    help_text = CliRunner().invoke(app, [*argv, "--help"], terminal_width=200).output
    assert "--json" in help_text


def test_a_finished_run_points_to_the_verified_sample_until_it_has_one(tmp_path, capsys):
    from auditor.cli import _finish_run
    from auditor.config import config_from_dict
    from auditor.pipeline import RunResult

    def printed(cfg) -> str:
        _finish_run(RunResult(tmp_path / "runs" / "x"), cfg)
        return capsys.readouterr().out

    plain = config_from_dict({"name": "x", "runs_dir": str(tmp_path / "runs")})
    assert "auditor sample" in printed(plain) and "auditor verify verified.jsonl" in printed(plain)
    with_sample = config_from_dict({"name": "x", "runs_dir": str(tmp_path / "runs"), "scoring": {"reference": {"file": "v.jsonl"}}})
    assert "auditor sample" not in printed(with_sample)
