"""Profile readerstation's index and load on the benchmark data (cProfile; py-spy is absent).

Run after ``bench/bench_dicom.py`` generated the data::

    .venv/bin/python bench/prototypes/profile_readerstation.py [--slices 400]

Writes ``bench/out/profile_<stage>.txt`` (top functions by cumulative and by own time) and
prints a stage timing summary. Files are in the page cache (read once before profiling).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "out"


def _profile(name: str, fn: Callable[[], Any], top: int = 30) -> tuple[float, Any]:
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    res = fn()
    prof.disable()
    wall = time.perf_counter() - t0
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    buf.write(f"# {name}: {wall:.3f} s wall under cProfile\n\n## by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(top)
    buf.write("\n## by own time\n")
    stats.sort_stats("tottime").print_stats(top)
    (OUT / f"profile_{name}.txt").write_text(buf.getvalue())
    return wall, res


def main() -> int:
    """Profile index_folder, plan_series and load_series (serial) on the benchmark data."""
    from readerstation.dicom import index_folder, load_series, plan_series

    ap = argparse.ArgumentParser()
    ap.add_argument("--slices", type=int, default=400)
    args = ap.parse_args()
    base = OUT / "dicom" / f"n{args.slices}"
    study, series = base / "study", base / "series"
    for folder in (study, series):
        files = [str(p) for p in folder.rglob("*.dcm")]
        subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)

    rows = []
    wall, idx = _profile("index_folder_study", lambda: index_folder(study))
    rows.append(("index_folder(study)", wall, f"{len(idx.series)} series"))
    for ts in ("uncompressed", "jpegls"):
        folder = series / ts
        wall, plan = _profile(f"plan_series_{ts}", lambda f=folder: plan_series(f))
        rows.append((f"plan_series({ts})", wall, repr(plan.shape)))
        wall, _ = _profile(
            f"load_series_plan_serial_{ts}",
            lambda p=plan: load_series(p, out=p.empty_array(), executor="serial"),
        )
        rows.append((f"load_series(plan, serial) {ts}", wall, ""))
    print(f"{'stage (under cProfile)':44s} {'wall s':>8s}")
    for name, wall, note in rows:
        print(f"{name:44s} {wall:8.3f}  {note}")
    print(f"details: {OUT}/profile_*.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
