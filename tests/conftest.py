"""Suite-wide settings (offline, deterministic, quiet) and fixtures shared by several files."""

import os

import pytest

# Nothing in the suite may reach the network; the Hub code paths are tested on local data.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

# Before anything imports torch: the suite often runs beside other jobs (CI runners, shared
# boxes), where torch's default OpenMP spinning makes it many times slower (auditor.runtime).
from auditor.runtime import prepare_openmp_environment  # noqa: E402

prepare_openmp_environment()


def _noise_issues(corpus, suggest=None):
    """An issue table built from the synthetic corpus's recorded noise: one issue per noisy span
    of the train split (the union of its given and clean spans). suggest(n, clean) returns the
    n-th issue's suggested tags given the span's clean tags (default: the clean tags). Scores
    rise with the row number, so the ranking is the table order."""
    import pandas as pd

    from auditor.data.corpus import CLEAN_COLUMN, label_names
    from auditor.data.synthetic import noise_report

    ds = corpus["train"]
    names = label_names(corpus)
    by_id = {r["id"]: r for r in ds}
    rows = []
    for rec in noise_report(ds):
        r = by_id[rec.id]
        given = [names[t] for t in r["ner_tags"]]
        clean = [names[t] for t in r[CLEAN_COLUMN]]
        for diff in rec.diffs:
            spans = [s for s in (diff.given, diff.clean) if s is not None]
            start, end = min(s[0] for s in spans), max(s[1] for s in spans)
            n = len(rows)
            suggested = suggest(n, clean[start:end]) if suggest else clean[start:end]
            rows.append({
                "issue_id": f"{rec.id}:{start}-{end}", "id": rec.id, "lang": r["lang"], "split": "train",
                "start": start, "end": end, "kind": diff.kind, "given": given[start:end], "suggested": suggested,
                "score": round(0.01 * (n + 1), 4), "tokens": r["tokens"], "tags": given,
            })
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def noise_issues():
    """The builder of issue tables from recorded synthetic noise (see _noise_issues)."""
    return _noise_issues


# --- the review UI tests (test_review_*.py) ------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    """Async UI tests run on asyncio through anyio's pytest plugin (installed with Textual)."""
    return "asyncio"


@pytest.fixture
def run_dir(tmp_path):
    """A run folder holding the shared review rows' issues.parquet (test modules with runs of
    their own define their own run_dir, which takes precedence)."""
    from review_rows import make_issues

    from auditor.tables import write_issues

    run = tmp_path / "run"
    write_issues(make_issues(), run / "issues.parquet")
    return run
