#!/usr/bin/env python
"""Render a report.html in headless Chromium and save a screenshot, to check it by eye.

    python scripts/check_report_html.py reports/demo/report.html [--out shot.png] [--height 4000]

Also checks that the file is self-contained (no http(s) URLs, no src= other than data:
URIs, no <link>/<script>), since the screenshot alone would not show a missing resource
that Chromium silently skipped. Chromium runs offline-friendly: no network services,
a throwaway profile. Needs Debian's chromium (`apt-get install -y chromium`).
Exit status: 0 = screenshot written and self-contained, 1 = problems found, 2 = cannot run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name) or (name if Path(name).is_file() else None)
        if found:
            return found
    return None


def self_containment_problems(html: str) -> list[str]:
    """Ways the page would reach outside itself."""
    problems = []
    for url in sorted(set(re.findall(r"https?://[^\s\"'<>)]+", html))):
        problems.append(f"external URL {url}")
    for src in re.findall(r"""src\s*=\s*["']([^"']*)["']""", html):
        if not src.startswith("data:"):
            problems.append(f"src to a file: {src}")
    for tag in ("<link", "<script", "@import"):
        if tag in html:
            problems.append(f"contains {tag}")
    return problems


def screenshot(html_path: Path, out: Path, width: int, height: int, chromium: str, timeout: float = 120) -> None:
    with tempfile.TemporaryDirectory(prefix="auditor-chromium-") as profile:
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--screenshot={out.resolve()}",
            f"--window-size={width},{height}",
            html_path.resolve().as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"chromium failed (exit {proc.returncode}): {' | '.join(tail)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the report.html to render")
    parser.add_argument("--out", type=Path, help="screenshot PNG (default: next to the HTML, report.png)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=4000)
    args = parser.parse_args(argv)

    if not args.html.is_file():
        print(f"error: {args.html}: no such file", file=sys.stderr)
        return 2
    chromium = find_chromium()
    if chromium is None:
        print("error: chromium not found; install it with: apt-get install -y chromium", file=sys.stderr)
        return 2
    out = args.out or args.html.with_name(args.html.stem + ".png")
    problems = self_containment_problems(args.html.read_text(encoding="utf-8"))
    try:
        screenshot(args.html, out, args.width, args.height, chromium)
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"screenshot: {out}")
    for p in problems:
        print(f"not self-contained: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
