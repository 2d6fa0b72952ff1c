"""Small real datasets cut from SST-2 for fast integration tests, and the real CLI in a subprocess."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from sentisynth.records import Example

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sst2"
NAMES = ["negative", "positive"]


def sst2_rows(split: str, n: int | None = None, balanced: bool = True) -> list[tuple[str, str]]:
    """(text, label name) rows; with ``balanced`` the first n/2 of each label in file order."""
    with open(SST2 / f"{split}.tsv", encoding="utf-8") as fh:
        rows = [(r["sentence"], NAMES[int(r["label"])]) for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]
    if n is None:
        return rows
    if not balanced:
        return rows[:n]
    out = [r for r in rows if r[1] == "negative"][: n // 2] + [r for r in rows if r[1] == "positive"][: n // 2]
    return out


def sst2_by_label(split: str, n: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The first n/2 negative and the first n/2 positive (text, label) rows of a split, in file order."""
    rows = sst2_rows(split, n)
    return [r for r in rows if r[1] == "negative"], [r for r in rows if r[1] == "positive"]


def sst2_examples(split: str, n: int | None = None) -> list[Example]:
    return [Example(text=t, label=y) for t, y in sst2_rows(split, n)]


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


def cli_command(*args: str) -> list[str]:
    """``python -m sentisynth.cli ARGS`` with the test interpreter."""
    return [sys.executable, "-m", "sentisynth.cli", *args]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, prefix: tuple[str, ...] = (),
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the CLI to completion; ``prefix`` wraps it (e.g. ``setpriv …``), ``env`` replaces the environment."""
    env = env or {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    return subprocess.run([*prefix, *cli_command(*args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def assert_user_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 2, stderr one line ``error: ...`` (after any progress lines) containing every needle, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    # Progress goes to stderr as plain "progress: …" lines when it is not a terminal; the error is one line, last.
    lines = [ln for ln in proc.stderr.splitlines() if not ln.startswith("progress: ")]
    assert len(lines) == 1, f"stderr is not one line (besides progress lines): {proc.stderr!r}"
    assert proc.stderr.splitlines()[-1] == lines[0], f"the error is not the last line: {proc.stderr!r}"
    line = lines[0]
    assert line.startswith("error: "), line
    for n in needles:
        assert n in line, f"{n!r} not in {line!r}"
    return line
