"""Run every ``bench/bench_*.py`` in turn (one process each) and report how each ended.

Usage, from the repository root::

    .venv/bin/python bench/run_all.py               # full runs
    .venv/bin/python bench/run_all.py --quick       # smoke runs
    .venv/bin/python bench/run_all.py --repeats 5 --only dicom,engine

``--quick`` and ``--repeats N`` are passed to each benchmark whose ``--help`` lists them; a
benchmark that does not know an option runs without it (noted in the summary). Exit status is
0 when every benchmark exited 0, else 1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def find_benchmarks(only: list[str]) -> list[Path]:
    """``bench_*.py`` files next to this script, sorted; ``only`` filters by name suffix."""
    found = sorted(HERE.glob("bench_*.py"))
    if only:
        found = [p for p in found if p.stem.removeprefix("bench_") in only]
    return found


def supported_options(script: Path) -> str:
    """The ``--help`` text of a benchmark (empty when it has none)."""
    proc = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    return proc.stdout if proc.returncode == 0 else ""


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description="Run every bench/bench_*.py in turn.")
    ap.add_argument("--quick", action="store_true", help="smoke runs")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per measurement")
    ap.add_argument("--only", default="", help="comma list of benchmark names, e.g. dicom,engine")
    args = ap.parse_args(argv)
    scripts = find_benchmarks([s for s in args.only.split(",") if s])
    if not scripts:
        print("no bench/bench_*.py matched", file=sys.stderr)
        return 1
    summary: list[tuple[str, int, float, str]] = []
    for script in scripts:
        help_text = supported_options(script)
        cmd = [sys.executable, str(script)]
        notes = []
        for flag, value in (("--quick", args.quick), ("--repeats", args.repeats)):
            if not value:
                continue
            if flag in help_text:
                cmd += [flag] if value is True else [flag, str(value)]
            else:
                notes.append(f"{flag} not supported")
        print(f"\n##### {script.name} {' '.join(cmd[2:])}  (load average {os.getloadavg()})",
              flush=True)  # fmt: skip
        t0 = time.perf_counter()
        code = subprocess.run(cmd, cwd=HERE.parent).returncode
        summary.append((script.name, code, time.perf_counter() - t0, "; ".join(notes)))
    print("\n##### summary")
    for name, code, secs, note in summary:
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"{name:28s} {status:18s} {secs:8.1f} s  {note}")
    return 0 if all(code == 0 for _, code, _, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
