"""PACS benchmark: a 300-slice 512 x 512 CT series retrieved from a local Orthanc vs loaded from disk.

Run from the repository root::

    .venv/bin/python bench/bench_pacs.py                 # 300 slices, median of 5
    .venv/bin/python bench/bench_pacs.py --quick         # 60 slices, 1 repeat
    .venv/bin/python bench/bench_pacs.py --ts jpegls     # the same series in JPEG-LS Lossless

What it does
------------
1. Writes, once, the series with ``readerstation.sample.bench.write_ct_series`` under
   ``bench/out/pacs/n<slices>_<ts>/`` (git-ignored; reused when present).
2. Starts a throw-away Orthanc with ``scripts/orthanc.sh`` (127.0.0.1, DICOMweb plugin, temporary
   storage) and stores the series with ``DicomWebSource.push`` (STOW-RS; timed once).
3. Per repeat, in this one process, with the files in the page cache:
   * *disk*: ``load_series(folder)``;
   * *pacs*: ``DicomWebSource.retrieve_series`` into an emptied cache folder (one streamed
     WADO-RS request, parts written as they arrive), then ``load_series`` of the cached folder.
   The arrays are checked equal once. Prints medians and the ratio pacs / disk (aim: within 3x).
4. For the record, the alternative of one WADO-RS request per instance, with 1 and 2 parallel
   connections (``--no-alternatives`` skips it): it shows why the source streams the series.
5. Writes every figure to ``bench/out/results_pacs[_<ts>][_quick].json``.

This is a benchmark, not a test: the machine is shared, so compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
TS_UIDS = {"uncompressed": "1.2.840.10008.1.2.1", "jpegls": "1.2.840.10008.1.2.4.80"}


def warm(folder: Path) -> None:
    """Read every file once so that disk and cache loads both start from the page cache."""
    for f in folder.iterdir():
        f.read_bytes()


def timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def per_instance(
    url: str, study: str, series: str, sops: list[str], out: Path, workers: int
) -> float:
    """One WADO-RS GET per instance, ``workers`` connections, bytes written as received."""
    import requests

    local = threading.local()
    accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'

    def get(k_sop: tuple[int, str]) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        k, sop = k_sop
        r = local.session.get(
            f"{url}/studies/{study}/series/{series}/instances/{sop}", headers={"Accept": accept}
        )
        r.raise_for_status()
        (out / f"{k:05d}.part").write_bytes(r.content)  # multipart framing kept: same cost

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(get, enumerate(sops)))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="60 slices, 1 repeat")
    ap.add_argument("--repeats", type=int, default=None, help="repeats (default 5; 1 if --quick)")
    ap.add_argument("--slices", type=int, default=None, help="slices (default 300; 60 if --quick)")
    ap.add_argument("--ts", choices=sorted(TS_UIDS), default="uncompressed")
    ap.add_argument("--no-alternatives", action="store_true", help="skip per-instance GETs")
    args = ap.parse_args(argv)
    slices = args.slices or (60 if args.quick else 300)
    repeats = args.repeats or (1 if args.quick else 5)

    from readerstation.dicom import load_series
    from readerstation.dicom.pacs import DicomWebSource
    from readerstation.sample.bench import write_ct_series

    folder = OUT / "pacs" / f"n{slices}_{args.ts}"
    if not (folder.is_dir() and len(list(folder.glob("*.dcm"))) == slices):
        shutil.rmtree(folder, ignore_errors=True)
        print(f"writing {slices} x 512 x 512 ({args.ts}) to {folder} ...", flush=True)
        write_ct_series(folder, shape=(slices, 512, 512), transfer_syntax=TS_UIDS[args.ts])
    size_mb = sum(f.stat().st_size for f in folder.glob("*.dcm")) / 1e6

    server = Path(tempfile.mkdtemp(prefix="bench-orthanc-"))
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "orthanc.sh"), "start", str(server)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        print(f"could not start Orthanc: {proc.stderr.strip()}", file=sys.stderr)
        return 1
    url = proc.stdout.strip().splitlines()[-1]
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=folder.parent))  # same file system
    results: dict[str, Any] = {
        "slices": slices,
        "transfer_syntax": args.ts,
        "files_mb": round(size_mb, 1),
        "repeats": repeats,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_start": os.getloadavg(),
    }
    try:
        source = DicomWebSource(url, cache_dir=cache, timeout=120)
        t_push, pushed = timed(lambda: source.push([folder]))
        results["push_s"] = round(t_push, 3)
        study = source.query_studies("BENCH-001")[0]
        (series,) = source.query_series(study.study_uid)
        assert len(pushed.stored) == slices == series.n_instances

        warm(folder)
        load_series(folder)  # imports and decoder plugins warm, like a running workstation
        disk, retrieve, cached_load = [], [], []
        for k in range(repeats):
            # one volume alive at a time, so neither load pays for the other's memory
            shutil.rmtree(cache / series.series_uid, ignore_errors=True)
            t_ret, path = timed(lambda: source.retrieve_series(series.series_uid))
            t_load, vol_pacs = timed(lambda p=path: load_series(p))
            pacs_array = vol_pacs.array if k == 0 else None
            del vol_pacs
            t_disk, vol_disk = timed(lambda: load_series(folder))
            if pacs_array is not None and not np.array_equal(vol_disk.array, pacs_array):
                print("ERROR: the retrieved series loads differently from disk", file=sys.stderr)
                return 1
            del vol_disk, pacs_array
            disk.append(t_disk)
            retrieve.append(t_ret)
            cached_load.append(t_load)
        med = {
            "disk_load_s": statistics.median(disk),
            "pacs_retrieve_s": statistics.median(retrieve),
            "cache_load_s": statistics.median(cached_load),
            "pacs_total_s": statistics.median(
                r + c for r, c in zip(retrieve, cached_load, strict=True)
            ),
        }
        med["ratio_pacs_to_disk"] = med["pacs_total_s"] / med["disk_load_s"]
        results.update({k: round(v, 3) for k, v in med.items()})
        results["all_s"] = {"disk": disk, "retrieve": retrieve, "cache_load": cached_load}

        if not args.no_alternatives:
            import dicomweb_client.api as dw

            client = dw.DICOMwebClient(url)
            sops = [
                i["00080018"]["Value"][0]
                for i in client.search_for_instances(
                    study.study_uid, series.series_uid, fields=["00080018"]
                )
            ]
            for workers in (1, 2):
                alt = cache / f"alt{workers}"
                t = per_instance(url, study.study_uid, series.series_uid, sops, alt, workers)
                results[f"per_instance_{workers}_connections_s"] = round(t, 3)
                shutil.rmtree(alt, ignore_errors=True)
    finally:
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "orthanc.sh"), "stop", str(server)], check=False
        )
        shutil.rmtree(cache, ignore_errors=True)
    results["load_average_end"] = os.getloadavg()

    print(f"\n{slices} x 512 x 512 CT, {args.ts}, {size_mb:.0f} MB, median of {repeats}")
    print(f"  STOW-RS push (once)                 {results['push_s']:8.2f} s")
    print(f"  disk: load_series                   {results['disk_load_s']:8.3f} s")
    print(f"  pacs: retrieve_series (WADO-RS)     {results['pacs_retrieve_s']:8.3f} s")
    print(f"  pacs: load_series from the cache    {results['cache_load_s']:8.3f} s")
    print(f"  pacs: retrieve + load               {results['pacs_total_s']:8.3f} s")
    print(
        f"  ratio pacs / disk                   {results['ratio_pacs_to_disk']:8.2f} x  (aim <= 3)"
    )
    for workers in (1, 2):
        key = f"per_instance_{workers}_connections_s"
        if key in results:
            print(
                f"  alternative: 1 GET per instance, {workers} connection(s) {results[key]:6.3f} s"
            )
    suffix = "" if args.ts == "uncompressed" else f"_{args.ts}"
    name = f"results_pacs{suffix}{'_quick' if args.quick else ''}.json"
    OUT.mkdir(exist_ok=True)
    (OUT / name).write_text(json.dumps(results, indent=2))
    print(f"figures written to {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
