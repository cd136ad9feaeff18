"""Benchmark: write and read back DICOM SR TID 1500 reports of 100 timepoint reads.

Each read is the sample trial's HCC-001 baseline read (T1, T2 with long, short and viable lines
on the real arterial images, a nodal target, a target too small to measure, a non-target), the
subject code varied per read. Prints the time to build + write 100 SR files and to load them back.

    .venv/bin/python bench/bench_export.py [--n 100]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_export_sr import derive_sample_read

from readerstation.export.sr import load_sr, save_sr
from readerstation.model import Subject


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    args = parser.parse_args()
    read, images = derive_sample_read(0)
    pool = list(images.values())
    reads = [
        dataclasses.replace(read, subject=Subject(f"SIM-{k:03d}", read.subject.treatment_start))
        for k in range(args.n)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        paths = [
            save_sr(r, pool, Path(tmp) / f"{r.subject.code}.dcm", observer_role="Reader 1")
            for r in reads
        ]
        t1 = time.perf_counter()
        back = [load_sr(p) for p in paths]
        t2 = time.perf_counter()
        size = sum(p.stat().st_size for p in paths)
    assert len(back) == args.n
    print(f"SR export: {args.n} reads ({len(read.lesions)} lesions each)")
    print(
        f"  write: {t1 - t0:.2f} s ({1000 * (t1 - t0) / args.n:.1f} ms per read), {size / args.n / 1024:.1f} KiB per file"
    )
    print(f"  load:  {t2 - t1:.2f} s ({1000 * (t2 - t1) / args.n:.1f} ms per read)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
