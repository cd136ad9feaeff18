"""Measurement benchmark: open a 512 x 512 x 300 arterial CT series, then seed click -> diameters.

Run from the repository root::

    .venv/bin/python bench/bench_measure.py              # full run (300 slices), 5 repeats
    .venv/bin/python bench/bench_measure.py --quick      # smoke run (60 slices), 1 repeat
    .venv/bin/python bench/bench_measure.py --repeats 9

What it does
------------
1. Generates, once, under ``bench/out/measure/n<slices>/`` (git-ignored) an arterial-phase CT
   series of 512 x 512 x ``slices`` at (1.0, 0.7, 0.7) mm with the sample responder's baseline
   liver lesions (``readerstation.sample.bench.write_ct_series``). Existing data is reused.
2. "Open case -> arterial image available": ``index_folder`` + ``select_series`` +
   ``plan_series`` + ``load_series`` on the folder (files in the page cache after the first
   repeat), median of ``--repeats`` wall times; also the time until ``load_series`` reports its
   first slices (a viewer can show the array from then).
3. "Seed click -> proposed diameters": ``propose_diameters`` from several seeds (the lesion
   centres and points a few mm off them, as a reader clicks), each repeated; median and maximum.
   The proposed diameters are printed next to the design values.

This is a benchmark, not a test: the machine is shared (2 cores), so figures vary between runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "measure"

#: baseline lesions of the sample responder (HCC-001 TP0) painted by ``write_ct_series``:
#: name, centre (LPS mm), design long axis and viable long axis (mm)
LESIONS: tuple[tuple[str, tuple[float, float, float], float, float], ...] = (
    ("T1", (-70.0, -15.0, 60.0), 60.0, 52.0),
    ("T2", (-95.0, 30.0, -5.0), 40.0, 40.0),
    ("NT1", (45.0, -55.0, 40.0), 14.0, 14.0),
)
#: offsets (LPS mm) added to every centre to make the seeds: a reader does not click the centre
SEED_OFFSETS: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.0, 0.0),
    (2.0, -1.5, 0.0),
    (-1.5, 2.0, 2.0),
)


def ensure_series(n_slices: int) -> Path:
    """Write the benchmark series once; return its folder."""
    from readerstation.sample.bench import write_ct_series
    from readerstation.sample.design import ContrastPhase

    folder = OUT / f"n{n_slices}"
    marker = folder / "done.json"
    if marker.is_file() and len(list(folder.glob("*.dcm"))) == n_slices:
        return folder
    print(f"generating {n_slices} x 512 x 512 arterial series in {folder} ...", flush=True)
    series = write_ct_series(
        folder,
        shape=(n_slices, 512, 512),
        spacing=(1.0, 0.7, 0.7),
        phase=ContrastPhase.ARTERIAL,
        with_lesions=True,
        workers=2,
    )
    print(f"  {series!r}", flush=True)
    marker.write_text(json.dumps({"series_uid": series.series_uid}), encoding="utf-8")
    return folder


def time_open(folder: Path, repeats: int) -> tuple[list[float], list[float], Any]:
    """Wall times of index + load, and of index + first slices available."""
    from readerstation.dicom import index_folder, load_series, plan_series, select_series

    totals: list[float] = []
    firsts: list[float] = []
    vol = None
    for _ in range(repeats):
        first: list[float] = []
        t0 = time.perf_counter()
        info, _warn = select_series(index_folder(folder))
        plan = plan_series(info)

        def progress(done: int, total: int, _t0: float = t0, _first: list[float] = first) -> bool:
            if not _first:
                _first.append(time.perf_counter() - _t0)
            return True

        vol = load_series(plan, progress=progress)
        totals.append(time.perf_counter() - t0)
        firsts.append(first[0] if first else totals[-1])
    return totals, firsts, vol


def time_propose(vol: Any, repeats: int) -> tuple[list[float], list[dict[str, Any]]]:
    """Wall times of propose_diameters over every seed x repeat (refused seeds are not timed),
    and one result per seed."""
    from readerstation.errors import ReaderstationError
    from readerstation.measure import propose_diameters

    times: list[float] = []
    rows: list[dict[str, Any]] = []
    for _name, centre, _long, _viable in LESIONS:  # warm-up (imports, caches)
        try:
            propose_diameters(vol, centre)
            break
        except ReaderstationError:
            continue
    for name, centre, long_mm, viable_mm in LESIONS:
        for off in SEED_OFFSETS:
            seed = tuple(c + o for c, o in zip(centre, off, strict=True))
            result = None
            error = None
            for _ in range(repeats):
                t0 = time.perf_counter()
                try:
                    result = propose_diameters(vol, seed)
                except ReaderstationError as exc:  # a seed off the (--quick) volume
                    error = str(exc)
                    continue
                times.append(time.perf_counter() - t0)
            rows.append(
                {
                    "lesion": name,
                    "seed_lps_mm": [round(v, 2) for v in seed],
                    "design_long_mm": long_mm,
                    "design_viable_mm": viable_mm,
                    "long_axis_mm": None if result is None else round(result.long_axis_mm, 2),
                    "short_axis_mm": None if result is None else round(result.short_axis_mm, 2),
                    "viable_long_axis_mm": (
                        None if result is None else round(result.viable_long_axis_mm, 2)
                    ),
                    "error": error,
                }
            )
    return times, rows


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 60 slices (z -4.5..54.5 mm: only NT1 lies inside), 1 repeat",
    )
    ap.add_argument("--repeats", type=int, default=None, help="repeats per measurement (5)")
    ap.add_argument("--generate-only", action="store_true", help="write the series and stop")
    args = ap.parse_args(argv)
    n_slices = 60 if args.quick else 300
    repeats = args.repeats or (1 if args.quick else 5)
    folder = ensure_series(n_slices)
    if args.generate_only:
        return 0
    open_times, first_times, vol = time_open(folder, repeats)
    prop_times, rows = time_propose(vol, repeats)
    print(
        f"machine: {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, repeats {repeats}"
    )
    print(f"series: {vol!r}")
    print()
    print("| step | median | min | max | aim |")
    print("|---|---|---|---|---|")
    print(
        f"| open case -> arterial image loaded (index + plan + load_series) | "
        f"{statistics.median(open_times):.3f} s | {min(open_times):.3f} s | "
        f"{max(open_times):.3f} s | < 1 s |"
    )
    print(
        f"| open case -> first slices available (progress) | "
        f"{statistics.median(first_times):.3f} s | {min(first_times):.3f} s | "
        f"{max(first_times):.3f} s | |"
    )
    print(
        f"| seed click -> proposed diameters ({len(prop_times)} proposals) | "
        f"{statistics.median(prop_times) * 1e3:.0f} ms | {min(prop_times) * 1e3:.0f} ms | "
        f"{max(prop_times) * 1e3:.0f} ms | < 200 ms |"
    )
    print()
    print("| lesion | seed LPS mm | design long / viable | proposed long / short / viable |")
    print("|---|---|---|---|")
    for r in rows:
        got = (
            f"error: {r['error']}"
            if r["long_axis_mm"] is None
            else f"{r['long_axis_mm']} / {r['short_axis_mm']} / {r['viable_long_axis_mm']}"
        )
        print(
            f"| {r['lesion']} | {r['seed_lps_mm']} | {r['design_long_mm']} / "
            f"{r['design_viable_mm']} | {got} |"
        )
    results = {
        "n_slices": n_slices,
        "repeats": repeats,
        "open_s": open_times,
        "first_slices_s": first_times,
        "propose_s": prop_times,
        "proposals": rows,
    }
    (HERE / "out").mkdir(exist_ok=True)
    out_json = (
        HERE / "out" / ("results_measure_quick.json" if args.quick else "results_measure.json")
    )
    out_json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\nwritten {out_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
