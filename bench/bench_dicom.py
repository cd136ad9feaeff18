"""DICOM benchmark: index and load of a 512 x 512 x 400 CT series against the usual tools.

Run from the repository root::

    .venv/bin/python bench/bench_dicom.py              # full run (400 slices), 5 repeats
    .venv/bin/python bench/bench_dicom.py --quick      # smoke run (100 slices), 1 repeat
    .venv/bin/python bench/bench_dicom.py --repeats 5 --only uncompressed,index

What it does
------------
1. Generates, once, under ``bench/out/dicom/n<slices>/`` (git-ignored): the same CT series in
   four transfer syntaxes (Explicit VR Little Endian, RLE Lossless, JPEG-LS Lossless, JPEG 2000
   Lossless) with ``readerstation.sample.write_ct_series``, and a multi-phase study folder with
   ``readerstation.sample.write_study``. Existing data is reused.
2. Measures every loader in a fresh subprocess (``--worker``), with the files in the page cache
   (``cat`` once before every worker): the median of ``--repeats`` wall times (default 5, at
   most 3 for loaders slower than 4 s), the peak RSS above
   the RSS before the first repeat (``resource.getrusage``; worker processes of a pool are
   reported separately, their shared-memory pages are the same pages), the CPU seconds per wall
   second (cores used), and for readerstation and the prototype the time until ``progress``
   first reports (a viewer can show the array from then on).
3. Prints one table per transfer syntax and one for the index, with ratios to the physical floor
   (``cat`` of the same files to /dev/null) and to the fastest baseline, and writes every figure
   to ``bench/out/results_dicom.json``.

Loaders: ``cat`` (floor), SimpleITK ``ImageSeriesReader``, a plain pydicom loop (per decoding
plugin), the same pydicom loop in 2 processes writing into shared memory, python-gdcm
``ImageReader``, readerstation ``load_series`` (from a path, and from a plan), and the prototype
fast path of ``bench/prototypes``. Index: SimpleITK ``GetGDCMSeriesIDs`` +
``GetGDCMSeriesFileNames``, python-gdcm ``Scanner``, pydicom ``stop_before_pixels``,
readerstation ``index_folder`` and the prototype minimal header parser.

This is a benchmark, not a test: the machine is shared, so compare ratios within one run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
if str(HERE / "prototypes") not in sys.path:
    sys.path.insert(0, str(HERE / "prototypes"))

TS_UIDS: dict[str, str] = {
    "uncompressed": "1.2.840.10008.1.2.1",
    "rle": "1.2.840.10008.1.2.5",
    "jpegls": "1.2.840.10008.1.2.4.80",
    "j2k": "1.2.840.10008.1.2.4.90",
}
TS_LABEL = {
    "uncompressed": "Explicit VR Little Endian (uncompressed)",
    "rle": "RLE Lossless",
    "jpegls": "JPEG-LS Lossless",
    "j2k": "JPEG 2000 Lossless",
}
#: pydicom decoding plugins measured per transfer syntax ("" = pydicom's own native reader).
#: pydicom's pure-Python RLE plugin (~0.14 s per slice here) is left out: it is never the
#: fastest and would add a minute per repeat.
PYDICOM_PLUGINS: dict[str, tuple[str, ...]] = {
    "uncompressed": ("",),
    "rle": ("pylibjpeg",),  # pydicom has no gdcm plugin for RLE; gdcm is measured directly
    "jpegls": ("pyjpegls", "pylibjpeg", "gdcm"),
    "j2k": ("pylibjpeg", "gdcm"),
}
#: the plugin used for the 2-process pydicom baseline (fastest single-process plugin here).
PYDICOM_X2_PLUGIN = {"rle": "pylibjpeg", "jpegls": "pyjpegls", "j2k": "gdcm"}
BASELINE_PREFIXES = ("sitk", "pydicom", "gdcm")
SLOW_S = 4.0  # loaders slower than this get at most 3 repeats

INDEX_TAGS = (
    (0x0020, 0x000D),  # StudyInstanceUID
    (0x0020, 0x000E),  # SeriesInstanceUID
    (0x0008, 0x0016),  # SOPClassUID
    (0x0008, 0x0018),  # SOPInstanceUID
    (0x0008, 0x0060),  # Modality
    (0x0008, 0x103E),  # SeriesDescription
    (0x0020, 0x0011),  # SeriesNumber
    (0x0020, 0x0013),  # InstanceNumber
    (0x0020, 0x0032),  # ImagePositionPatient
    (0x0020, 0x0037),  # ImageOrientationPatient
    (0x0028, 0x0010),  # Rows
    (0x0028, 0x0011),  # Columns
    (0x0028, 0x0030),  # PixelSpacing
)


# ------------------------------------------------------------------------------------ data
def _generator() -> tuple[str, Callable[..., Any], Callable[..., Any]]:
    from readerstation.sample.bench import write_ct_series, write_study

    return "readerstation.sample.bench", write_ct_series, write_study


def dicom_files(folder: Path) -> list[str]:
    """Every ``*.dcm`` below ``folder`` (recursive), sorted by path."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        found.extend(os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".dcm"))
    return found


def prepare_data(n_slices: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Generate (once) the four series and the study; return their folders and sizes."""
    sys.path.insert(0, str(HERE))
    base = OUT / "dicom" / f"n{n_slices}"
    gen_name, write_series, write_study = _generator()
    info: dict[str, Any] = {"base": str(base), "series": {}, "generator": {}}
    for name, uid in TS_UIDS.items():
        folder = base / "series" / name
        marker = base / "series" / f"{name}.complete.json"
        if not marker.exists():
            log(f"generating {name}: {n_slices} x 512 x 512 with {gen_name} ...")
            t0 = time.perf_counter()
            res = write_series(folder, shape=(n_slices, 512, 512), transfer_syntax=uid)
            secs = time.perf_counter() - t0
            marker.write_text(
                json.dumps({"generator": gen_name, "result": repr(res), "seconds": secs})
            )
        info["series"][name] = str(folder)
        info["generator"][name] = json.loads(marker.read_text())["generator"]
    study = base / "study"
    marker = base / "study.complete.json"
    if not marker.exists():
        log(f"generating the study folder (3 phases x {n_slices} slices) ...")
        t0 = time.perf_counter()
        res = write_study(study, shape=(n_slices, 512, 512))
        marker.write_text(
            json.dumps(
                {"generator": gen_name, "result": repr(res), "seconds": time.perf_counter() - t0}
            )
        )
    info["study"] = str(study)
    info["generator"]["study"] = json.loads(marker.read_text())["generator"]
    return info


# --------------------------------------------------------------------------------- workers
def _ordered_files(folder: Path) -> list[str]:
    """Files of one series sorted along the slice normal (ascending), by the minimal parser."""
    from fast_load import derive_fast_plan  # type: ignore[import-not-found]

    plan = derive_fast_plan(dicom_files(folder))
    return [h.path for h in plan.headers]


def _intercept_of(files: list[str]) -> tuple[float, float]:
    from fast_header import read_fast_header  # type: ignore[import-not-found]

    h = read_fast_header(files[0])
    slope = float((h.get("rescale_slope") or (1.0,))[0])
    intercept = float((h.get("rescale_intercept") or (0.0,))[0])
    return slope, intercept


def _pydicom_chunk(
    shm_name: str, shape: tuple[int, int, int], dtype: str, plugin: str, jobs: list[Any]
) -> int:
    """Worker task of the 2-process pydicom baseline: decode files into shared memory."""
    import numpy as np
    import pydicom
    from fast_load import _attach  # type: ignore[import-not-found]

    shm = _attach(shm_name)
    try:
        out = np.ndarray(shape, dtype=dtype, buffer=shm.buf)
        for k, path in jobs:
            ds = pydicom.dcmread(path)
            if plugin:
                ds.pixel_array_options(decoding_plugin=plugin)
            px = ds.pixel_array
            np.add(px, np.int16(ds.RescaleIntercept), out=out[k], casting="unsafe")
        del out
    finally:
        shm.close()
    return len(jobs)


def _proc_stats(pid: int) -> tuple[float, float, float]:
    """(CPU seconds, current RSS MB, peak RSS MB) of a process, from /proc."""
    import psutil

    p = psutil.Process(pid)
    cpu = p.cpu_times()
    hwm = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = float(line.split()[1]) * 1024 / 1e6
    return cpu.user + cpu.system, p.memory_info().rss / 1e6, hwm


class PoolMeter:
    """CPU and peak memory of a ProcessPoolExecutor's workers (forkserver children are not
    children of this process, so ``RUSAGE_CHILDREN`` does not see them)."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor
        self.start = {pid: _proc_stats(pid) for pid in executor._processes}

    def finish(self) -> dict[str, float]:
        """Worker CPU seconds and the sum of worker peak-RSS increases (MB) since start."""
        cpu = mem = 0.0
        for pid, (cpu0, rss0, _) in self.start.items():
            cpu1, _, hwm = _proc_stats(pid)
            cpu += cpu1 - cpu0
            mem += max(hwm - rss0, 0.0)
        return {"pool_cpu_s": cpu, "pool_peak_delta_mb": mem}


def _warm_pydicom(plugin: str) -> int:
    """Pool warm-up: import pydicom and its decoder plugin in a worker."""
    import pydicom
    from pydicom.pixels import get_decoder

    get_decoder(pydicom.uid.JPEGLSLossless)
    if plugin in ("pylibjpeg", "gdcm", "pyjpegls"):
        __import__({"pylibjpeg": "pylibjpeg", "gdcm": "gdcm", "pyjpegls": "jpeg_ls"}[plugin])
    time.sleep(0.05)  # so that every worker gets a warm-up task
    return os.getpid()


def _setup_load(kind: str, folder: Path) -> tuple[Callable[[], Any], Callable[[], None], dict]:
    """Return (run, teardown, extra) for a load loader; ``run`` returns the array (or None)."""
    import numpy as np

    extra: dict[str, Any] = {}
    files = _ordered_files(folder)
    n = len(files)
    _, intercept = _intercept_of(files)
    shape = (n, 512, 512)

    def none() -> None:
        return None

    if kind == "cat":

        def run() -> None:
            subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)

        return run, none, extra

    if kind == "sitk":
        import SimpleITK as sitk

        def run() -> Any:
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(files)
            img = reader.Execute()
            return (sitk.GetArrayViewFromImage(img), img)

        return run, none, extra

    if kind.startswith("pydicom:"):
        import pydicom

        plugin = kind.split(":", 1)[1]

        def run() -> Any:
            out = np.empty(shape, dtype=np.int16)
            for k, f in enumerate(files):
                ds = pydicom.dcmread(f)
                if plugin:
                    ds.pixel_array_options(decoding_plugin=plugin)
                np.add(ds.pixel_array, np.int16(ds.RescaleIntercept), out=out[k], casting="unsafe")
            return out

        return run, none, extra

    if kind.startswith("pydicom2:"):
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from multiprocessing import get_context

        from fast_load import empty_shared  # type: ignore[import-not-found]

        plugin = kind.split(":", 1)[1]
        t0 = time.perf_counter()
        pool = ProcessPoolExecutor(2, mp_context=get_context("forkserver"))
        # start both workers and import the decoders there (a session keeps its pool)
        list(pool.map(_warm_pydicom, [plugin] * 4))
        extra["pool_start_s"] = time.perf_counter() - t0
        extra["shared_mb"] = n * 512 * 512 * 2 / 1e6  # the output lives in shared memory
        meter = PoolMeter(pool)

        def teardown() -> dict[str, float]:
            stats = meter.finish()
            pool.shutdown(wait=True)
            return stats

        def run() -> Any:
            out = empty_shared(shape, np.dtype(np.int16))
            jobs = list(enumerate(files))
            futs = [
                pool.submit(_pydicom_chunk, out.shm.name, shape, "<i2", plugin, jobs[i : i + 8])
                for i in range(0, n, 8)
            ]
            try:
                for fut in as_completed(futs):
                    fut.result()
            finally:
                out.shm.unlink()
            return out

        return run, teardown, extra

    if kind == "gdcm":
        import gdcm

        def run() -> Any:
            out = np.empty(shape, dtype=np.int16)
            for k, f in enumerate(files):
                reader = gdcm.ImageReader()
                reader.SetFileName(f)
                if not reader.Read():
                    raise RuntimeError(f"GDCM cannot read {f}")
                raw = reader.GetImage().GetBuffer().encode("utf-8", "surrogateescape")
                px = np.frombuffer(raw, dtype=np.uint16).reshape(512, 512)
                np.add(px.view(np.int16), np.int16(intercept), out=out[k])
            return out

        return run, none, extra

    if kind.startswith("rs_"):
        from readerstation.dicom import load_series, plan_series

        first: dict[str, float] = {}

        def progress(done: int, total: int) -> None:
            if "t" not in first:
                first["t"] = time.perf_counter()

        if kind == "rs_path":

            def run() -> Any:
                return load_series(folder).array

            return run, none, extra
        t0 = time.perf_counter()
        plan = plan_series(folder)
        extra["plan_s"] = time.perf_counter() - t0
        executor = "serial" if kind == "rs_plan_serial" else "auto"

        def run() -> Any:
            first.clear()
            t_start = time.perf_counter()
            vol = load_series(plan, out=plan.empty_array(), progress=progress, executor=executor)
            extra.setdefault("first_slice_s", []).append(first.get("t", np.nan) - t_start)
            return vol.array

        return run, none, extra

    if kind.startswith("proto"):
        from fast_load import (  # type: ignore[import-not-found]
            DecodePool,
            derive_fast_plan,
            empty_shared,
            load_fast,
        )

        paths = dicom_files(folder)
        t0 = time.perf_counter()
        fplan = derive_fast_plan(paths)
        extra["plan_s"] = time.perf_counter() - t0
        pool = None
        meter = None
        if fplan.compressed:
            t0 = time.perf_counter()
            pool = DecodePool(2)
            extra["pool_start_s"] = time.perf_counter() - t0
            extra["shared_mb"] = int(np.prod(fplan.shape)) * fplan.out_dtype.itemsize / 1e6
            meter = PoolMeter(pool.executor)

        def proto_teardown() -> dict[str, float] | None:
            if pool is None or meter is None:
                return None
            stats = meter.finish()
            pool.close()
            return stats

        first = {}

        def progress(done: int, total: int) -> None:
            if "t" not in first:
                first["t"] = time.perf_counter()

        def run() -> Any:
            first.clear()
            t_start = time.perf_counter()
            p = derive_fast_plan(paths) if kind == "proto_path" else fplan
            out = empty_shared(p.shape, p.out_dtype) if p.compressed else None
            arr = load_fast(p, pool=pool, out=out, progress=progress)
            extra.setdefault("first_slice_s", []).append(first.get("t", np.nan) - t_start)
            return arr

        return run, proto_teardown, extra

    raise SystemExit(f"unknown load loader {kind!r}")


def _setup_index(kind: str, folder: Path) -> tuple[Callable[[], Any], Callable[[], None], dict]:
    """Return (run, teardown, extra) for an index loader; ``run`` returns (series, files)."""
    extra: dict[str, Any] = {}

    def none() -> None:
        return None

    if kind == "ix_sitk":
        import SimpleITK as sitk

        def run() -> Any:
            n_series = n_files = 0
            for dirpath, _, filenames in os.walk(folder):
                if not any(f.endswith(".dcm") for f in filenames):
                    continue
                for uid in sitk.ImageSeriesReader.GetGDCMSeriesIDs(dirpath):
                    names = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(dirpath, uid)
                    n_series += 1
                    n_files += len(names)
            return n_series, n_files

        return run, none, extra

    if kind == "ix_gdcm":
        import gdcm

        def run() -> Any:
            files = dicom_files(folder)
            scanner = gdcm.Scanner()
            for g, e in INDEX_TAGS:
                scanner.AddTag(gdcm.Tag(g, e))
            if not scanner.Scan(files):
                raise RuntimeError("gdcm.Scanner failed")
            series_tag = gdcm.Tag(0x0020, 0x000E)
            groups: dict[str, list[str]] = {}
            for f in files:
                groups.setdefault(scanner.GetValue(f, series_tag), []).append(f)
            return len(groups), sum(len(v) for v in groups.values())

        return run, none, extra

    if kind == "ix_pydicom":
        import pydicom
        from pydicom.tag import Tag

        tags = [Tag(g, e) for g, e in INDEX_TAGS]

        def run() -> Any:
            groups: dict[str, list[Any]] = {}
            for f in dicom_files(folder):
                ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=tags)
                groups.setdefault(str(ds.SeriesInstanceUID), []).append(ds)
            return len(groups), sum(len(v) for v in groups.values())

        return run, none, extra

    if kind == "ix_rs":
        from readerstation.dicom import index_folder

        def run() -> Any:
            idx = index_folder(folder)
            return len(idx.series), sum(s.n_images for s in idx.series)

        return run, none, extra

    if kind == "ix_proto":
        from fast_header import read_fast_header  # type: ignore[import-not-found]

        def run() -> Any:
            groups: dict[object, list[Any]] = {}
            for f in dicom_files(folder):
                h = read_fast_header(f)
                if h is not None:
                    groups.setdefault(h.get("series_uid"), []).append(h)
            for hs in groups.values():
                hs.sort(key=lambda h: h.get("position")[2])  # axial: z of the first voxel
            return len(groups), sum(len(v) for v in groups.values())

        return run, none, extra

    raise SystemExit(f"unknown index loader {kind!r}")


def _check(res: Any) -> Any:
    """A small fingerprint of a result, to see that loaders agree."""
    import numpy as np

    if res is None:
        return None
    if isinstance(res, tuple) and res and hasattr(res[0], "shape"):
        res = res[0]
    if hasattr(res, "shape"):
        arr = np.asarray(res)
        n = arr.shape[0]
        picks = arr[[0, n // 2, n - 1]].astype(np.int64)
        return {
            "shape": list(arr.shape),
            "dtype": str(arr.dtype),
            "sum3": int(picks.sum()),
            "first_mean": float(picks[0].mean()),
        }
    return list(res)


def worker_main(kind: str, target: str, data: Path, repeats: int) -> None:
    """Measure one loader on one target and print one JSON line."""
    import psutil

    folder = data / "study" if target == "index" else data / "series" / target
    setup = _setup_index if target == "index" else _setup_load
    run, teardown, extra = setup(kind, folder)
    gc.collect()
    rss0 = psutil.Process().memory_info().rss
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    times: list[float] = []
    check = None
    load0 = os.getloadavg()[0]
    for i in range(repeats):
        if i == 3 and statistics.median(times) > SLOW_S:
            break  # slow loaders: 3 repeats are enough to see their level
        gc.collect()
        t0 = time.perf_counter()
        res = run()
        times.append(time.perf_counter() - t0)
        check = _check(res)
        del res
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    pool_stats = teardown() or {}
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    self_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    kids_cpu = kids.ru_utime + kids.ru_stime + pool_stats.get("pool_cpu_s", 0.0)
    main_peak = (cpu1.ru_maxrss * 1024 - rss0) / 1e6
    print(
        json.dumps(
            {
                "kind": kind,
                "target": target,
                "times_s": times,
                "median_s": statistics.median(times),
                # main process peak above its RSS before the first repeat, plus (shared-memory
                # pools) the workers' peak increases and the shared output segment, whose
                # pages neither process keeps mapped for long (see peak_mb)
                "peak_rss_delta_mb": main_peak
                + pool_stats.get("pool_peak_delta_mb", 0.0)
                + extra.get("shared_mb", 0.0),
                "main_peak_delta_mb": main_peak,
                "rss_before_mb": rss0 / 1e6,
                # spawned children (readerstation's per-load pool): the largest child's peak
                "children_peak_rss_mb": kids.ru_maxrss * 1024 / 1e6,
                "self_cpu_per_wall": self_cpu / sum(times),
                "children_cpu_s": kids_cpu,
                "cores_used": (self_cpu + kids_cpu) / sum(times),
                **pool_stats,
                "loadavg_1min": load0,
                "check": check,
                **{k: v for k, v in extra.items()},
            }
        )
    )


# ------------------------------------------------------------------------------ orchestrator
def load_kinds(ts: str) -> list[str]:
    """The loaders measured for one transfer syntax, in table order."""
    kinds = ["cat", "sitk"]
    kinds += [f"pydicom:{p}" for p in PYDICOM_PLUGINS[ts]]
    if ts in PYDICOM_X2_PLUGIN:
        kinds.append(f"pydicom2:{PYDICOM_X2_PLUGIN[ts]}")
    kinds += ["gdcm", "rs_path", "rs_plan"]
    if ts != "uncompressed":
        kinds.append("rs_plan_serial")
    kinds += ["proto", "proto_path"]
    return kinds


INDEX_KINDS = ["ix_sitk", "ix_gdcm", "ix_pydicom", "ix_rs", "ix_proto"]

LABELS = {
    "cat": "floor: cat files > /dev/null",
    "sitk": "SimpleITK ImageSeriesReader",
    "pydicom:": "pydicom loop",
    "gdcm": "python-gdcm ImageReader loop",
    "rs_path": "readerstation load_series(folder)",
    "rs_plan": "readerstation load_series(plan) [auto]",
    "rs_plan_serial": "readerstation load_series(plan, executor='serial')",
    "proto": "prototype load_fast(plan)",
    "proto_path": "prototype plan + load_fast",
    "ix_sitk": "SimpleITK GetGDCMSeriesIDs + FileNames",
    "ix_gdcm": "python-gdcm Scanner",
    "ix_pydicom": "pydicom stop_before_pixels loop",
    "ix_rs": "readerstation index_folder",
    "ix_proto": "prototype minimal header parser",
}


def label(kind: str) -> str:
    """Human name of a loader."""
    if kind.startswith("pydicom:"):
        return f"pydicom loop [{kind.split(':')[1] or 'native'}]"
    if kind.startswith("pydicom2:"):
        return f"pydicom loop x2 processes [{kind.split(':')[1]}]"
    return LABELS.get(kind, kind)


def _warm(files: list[str]) -> None:
    subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)


def run_worker(kind: str, target: str, data: Path, repeats: int) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return its JSON (or the error)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--target", target,
           "--data", str(data), "--repeats", str(repeats)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"kind": kind, "target": target, "error": " | ".join(tail)}
    return json.loads(lines[-1])


def _uses_shm(kind: str, ts: str) -> bool:
    return kind.startswith("pydicom2") or (kind.startswith("proto") and ts != "uncompressed")


def peak_mb(row: dict[str, Any], ts: str, volume_mb: float) -> float:
    """Peak memory of one measurement: main process peak increase + pool workers' peak
    increases + the shared-memory output segment (results of runs before 06:45 UTC on
    2026-11-24 lack ``shared_mb``; it is the volume size)."""
    shared = row.get("shared_mb", volume_mb if _uses_shm(row["kind"], ts) else 0.0)
    return row["main_peak_delta_mb"] + row.get("pool_peak_delta_mb", 0.0) + shared


def _fmt(v: float | None, spec: str = ".3f") -> str:
    if v is None or v != v:  # None or NaN
        return "-"
    return format(v, spec)


def print_load_table(
    ts: str, rows: list[dict[str, Any]], volume_mb: float, files_mb: float
) -> None:
    """One table of load figures for one transfer syntax."""
    ok = [r for r in rows if "error" not in r]
    floor = next((r["median_s"] for r in ok if r["kind"] == "cat"), None)
    bases = [r for r in ok if r["kind"].startswith(BASELINE_PREFIXES)]
    best = min(bases, key=lambda r: r["median_s"]) if bases else None
    n = next((r["check"]["shape"][0] for r in ok if r.get("check")), 0)
    print(f"\n== load: {TS_LABEL[ts]}: {n} x 512 x 512, volume {volume_mb:.1f} MB as int16, "
          f"files {files_mb:.1f} MB ==")  # fmt: skip
    if best:
        print(f"   fastest baseline: {label(best['kind'])} ({best['median_s']:.3f} s)")
    head = (f"{'loader':52s} {'median s':>9s} {'min s':>7s} {'x floor':>8s} {'x best':>7s} "
            f"{'peak MB':>8s} {'x vol':>6s} {'cores':>5s} {'CPU s':>6s} {'1st slice s':>11s}  check")  # fmt: skip
    print(head)
    print("-" * len(head))
    ref = next((r["check"] for r in ok if r["kind"] == "proto"), None)
    for r in rows:
        if "error" in r:
            print(f"{label(r['kind']):52s} ERROR: {r['error'][:150]}")
            continue
        med = r["median_s"]
        first = r.get("first_slice_s")
        first_med = statistics.median(first) if first else None
        chk = r.get("check")
        if not chk or not ref:
            same = "-"
        elif chk["sum3"] == ref["sum3"]:
            same = "same"
        else:
            same = f"DIFFERS ({chk['dtype']}, sum3={chk['sum3']})"
        peak = peak_mb(r, ts, volume_mb) if r["kind"] != "cat" else None
        print(
            f"{label(r['kind']):52s} {med:9.3f} {min(r['times_s']):7.3f} "
            f"{_fmt(med / floor if floor else None, '8.1f')} "
            f"{_fmt(med / best['median_s'] if best else None, '7.2f')} "
            f"{_fmt(peak, '8.0f')} {_fmt(peak / volume_mb if peak else None, '6.2f')} "
            f"{r['cores_used']:5.2f} {r['cores_used'] * statistics.mean(r['times_s']):6.2f} "
            f"{_fmt(first_med, '11.3f')}  {same}"
        )


def print_index_table(rows: list[dict[str, Any]]) -> None:
    """The index table."""
    ok = [r for r in rows if "error" not in r]
    gd = next((r["median_s"] for r in ok if r["kind"] == "ix_gdcm"), None)
    print("\n== index: study folder ==")
    head = (
        f"{'indexer':52s} {'median s':>9s} {'min s':>7s} {'x gdcm Scanner':>14s} "
        f"{'peak MB':>8s}  series/files"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        if "error" in r:
            print(f"{label(r['kind']):52s} ERROR: {r['error'][:150]}")
            continue
        med = r["median_s"]
        print(
            f"{label(r['kind']):52s} {med:9.3f} {min(r['times_s']):7.3f} "
            f"{_fmt(med / gd if gd else None, '14.2f')} {r['peak_rss_delta_mb']:8.0f}  "
            f"{r['check']}"
        )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100 slices, 1 repeat: a smoke run")
    ap.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="repeats per loader (default 5, 1 with --quick; at most 3 when slower than 4 s)",
    )
    ap.add_argument("--slices", type=int, default=None, help="slices per series (default 400)")
    ap.add_argument("--only", default="", help="comma list of: uncompressed,rle,jpegls,j2k,index")
    ap.add_argument("--loaders", default="", help="comma list of loader kinds to run (default all)")
    ap.add_argument("--generate-only", action="store_true", help="generate the data and stop")
    ap.add_argument("--report", metavar="JSON", help="print the tables of a results file and stop")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--target", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)
    if args.worker:
        worker_main(args.worker, args.target, Path(args.data), repeats)
        return 0

    if args.report:
        saved = json.loads(Path(args.report).read_text())
        print(
            f"{args.report}: {saved['started']} .. {saved.get('finished')}, {saved['repeats']} "
            f"repeats, load average start {saved['loadavg_start']}, end {saved.get('loadavg_end')}"
        )
        for ts, v in saved["load"].items():
            print_load_table(ts, v["rows"], v["volume_mb"], v["files_mb"])
        if saved["index"]:
            print_index_table(saved["index"])
        return 0
    n_slices = args.slices or (100 if args.quick else 400)
    targets = [t for t in args.only.split(",") if t] or [*TS_UIDS, "index"]
    wanted = {k for k in args.loaders.split(",") if k}

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    data = prepare_data(n_slices, log)
    if args.generate_only:
        log(f"data ready under {data['base']}")
        return 0
    base = Path(data["base"])
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "n_slices": n_slices,
        "repeats": repeats,
        "loadavg_start": os.getloadavg(),
        "generator": data["generator"],
        "load": {},
        "index": [],
    }
    log(f"load average at start: {results['loadavg_start']}; {os.cpu_count()} CPUs; "
        f"{repeats} repeat(s); data {base}")  # fmt: skip
    volume_mb = n_slices * 512 * 512 * 2 / 1e6
    for ts in [t for t in targets if t in TS_UIDS]:
        files = dicom_files(Path(data["series"][ts]))
        files_mb = sum(os.path.getsize(f) for f in files) / 1e6
        rows = []
        for kind in load_kinds(ts):
            if wanted and kind not in wanted:
                continue
            _warm(files)
            log(f"{ts}: {label(kind)}")
            rows.append(run_worker(kind, ts, base, repeats))
        results["load"][ts] = {"rows": rows, "volume_mb": volume_mb, "files_mb": files_mb}
        print_load_table(ts, rows, volume_mb, files_mb)
    if "index" in targets:
        _warm(dicom_files(Path(data["study"])))
        for kind in INDEX_KINDS:
            if wanted and kind not in wanted:
                continue
            log(f"index: {label(kind)}")
            results["index"].append(run_worker(kind, "index", base, repeats))
        print_index_table(results["index"])
    results["loadavg_end"] = os.getloadavg()
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(
        f"\nload average (1, 5, 15 min): start {results['loadavg_start']}, end "
        f"{results['loadavg_end']}; this machine is shared, compare ratios within one run"
    )
    name = "results_dicom_quick.json" if args.quick else "results_dicom.json"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / name).write_text(json.dumps(results, indent=1))
    log(f"figures written to {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
