"""Benchmark of the SDTM export: 1,000 subjects x 8 timepoints x 2 readers (issue 6).

Builds a seeded synthetic dual-read trial as signed ``TimepointRead`` objects (3 targets: two
liver lesions and a lymph node, 1 non-target; noise between readers, occasional new lesions and
not-evaluated targets), then times the three steps of ``readerstation export --format sdtm``:
``derive_sdtm`` (engine for RECIST 1.1 and mRECIST + rows), the checks
(``check_sdtm_structure`` + ``check_sdtm_terms``) and ``save_sdtm`` (which checks again, then
writes CSV, SAS transport v5 and define.csv). Prints the times and the row counts; the aim is
under 10 s in all.

Usage::

    .venv/bin/python bench/bench_sdtm.py [--subjects 1000] [--timepoints 8] [--repeats 1]
    .venv/bin/python bench/bench_sdtm.py --quick      # 100 subjects
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from readerstation.export.sdtm import (
    SdtmRead,
    check_sdtm_structure,
    check_sdtm_terms,
    derive_sdtm,
    save_sdtm,
)
from readerstation.model import (
    Lesion,
    LesionAssessment,
    Measurement,
    Subject,
    Timepoint,
    TimepointRead,
)

SIGNED = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
OUT = Path(__file__).resolve().parent / "out"


def make_trial(n_subjects: int, n_timepoints: int, seed: int = 6) -> list[SdtmRead]:
    """A seeded dual-read trial: one :class:`SdtmRead` per subject and reader."""
    rng = random.Random(seed)
    lesions = (
        Lesion("t1", "T1", "target", "liver", liver_segment="VII", typical_hcc=True),
        Lesion("t2", "T2", "target", "liver", liver_segment="IV", typical_hcc=True),
        Lesion("t3", "T3", "target", "lymph_node", nodal=True),
        Lesion("nt1", "NT1", "non_target", "lung"),
    )
    new = Lesion("n1", "NL1", "new", "liver", liver_segment="II", typical_hcc=True)
    out = []
    for s in range(n_subjects):
        code = f"SIM-{s + 1:04d}"
        start = dt.date(2023, 1, 9) + dt.timedelta(days=rng.randrange(365))
        subject = Subject(code, start)
        size = [rng.uniform(25, 70), rng.uniform(20, 50), rng.uniform(18, 30)]
        trend = rng.uniform(-0.12, 0.08)
        truth = []
        for k in range(n_timepoints):
            if k:
                size = [max(1.0, d * (1 + trend + rng.gauss(0, 0.03))) for d in size]
            truth.append(list(size))
        new_at = rng.randrange(2, n_timepoints) if rng.random() < 0.2 else None
        accepted_slot = rng.choice((1, 2))
        for slot in (1, 2):
            reads = []
            for k in range(n_timepoints):
                date = start - dt.timedelta(days=3) if k == 0 else start + dt.timedelta(days=42 * k)
                la, lb, node = (d + rng.gauss(0, 1.0) for d in truth[k])
                items = [
                    LesionAssessment(
                        lesions[0],
                        Measurement("not_evaluated")
                        if k and rng.random() < 0.01
                        else Measurement(
                            "measured",
                            long_axis_mm=round(la, 1),
                            viable_long_axis_mm=round(la * 0.8, 1),
                        ),
                    ),
                    LesionAssessment(
                        lesions[1],
                        Measurement(
                            "measured",
                            long_axis_mm=round(lb, 1),
                            viable_long_axis_mm=round(lb * 0.7, 1),
                        ),
                    ),
                    LesionAssessment(
                        lesions[2],
                        Measurement(
                            "measured",
                            long_axis_mm=round(node * 1.4, 1),
                            short_axis_mm=round(node, 1),
                        ),
                    ),
                    LesionAssessment(lesions[3], non_target_status="present"),
                ]
                call = "none"
                if new_at is not None and k >= new_at and (slot == 1 or k > new_at):
                    items.append(
                        LesionAssessment(
                            new,
                            Measurement("measured", long_axis_mm=14.0, viable_long_axis_mm=12.0),
                        )
                    )
                    call = "unequivocal"
                reads.append(
                    TimepointRead(
                        subject,
                        Timepoint(f"TP{k}", date),
                        f"reader{slot}",
                        tuple(items),
                        call,
                        "signed",
                        1,
                        SIGNED,
                    )
                )
            accepted = frozenset({"recist1.1", "mrecist"}) if slot == accepted_slot else frozenset()
            out.append(SdtmRead(code, slot, accepted, tuple(reads)))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subjects", type=int, default=1000)
    p.add_argument("--timepoints", type=int, default=8)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="100 subjects, 1 repeat")
    args = p.parse_args()
    if args.quick:
        args.subjects, args.repeats = 100, 1
    t0 = time.perf_counter()
    trial = make_trial(args.subjects, args.timepoints)
    t_build = time.perf_counter() - t0
    derive_s, check_s, save_s, cpu_s = [], [], [], []
    ds = None
    for _ in range(args.repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        ds = derive_sdtm(trial, study_id="SIM")
        derive_s.append(time.perf_counter() - t0)
        cpu = time.process_time() - c0
        t0 = time.perf_counter()
        findings = check_sdtm_structure(ds) + check_sdtm_terms(ds)
        check_s.append(time.perf_counter() - t0)
        if findings:
            print(f"check findings: {findings[:3]}", file=sys.stderr)
            return 1
        with tempfile.TemporaryDirectory() as tmp:
            c0 = time.process_time()
            t0 = time.perf_counter()
            paths = save_sdtm(ds, tmp)
            save_s.append(time.perf_counter() - t0)
            cpu_s.append(cpu + time.process_time() - c0)
            sizes = {q.name: q.stat().st_size for q in paths}
    assert ds is not None
    derive_t, check_t, save_t = (statistics.median(x) for x in (derive_s, check_s, save_s))
    total = derive_t + save_t  # what `readerstation export --format sdtm` does (save checks)
    cpu_t = statistics.median(cpu_s)  # CPU seconds of derive + save (this process)
    result = {
        "subjects": args.subjects,
        "timepoints": args.timepoints,
        "readers": 2,
        "rows": {"TU": len(ds.tu), "TR": len(ds.tr), "RS": len(ds.rs)},
        "notes": len(ds.notes),
        "build_reads_s": round(t_build, 3),
        "derive_s": round(derive_t, 3),
        "check_s": round(check_t, 3),
        "save_s": round(save_t, 3),
        "export_total_s": round(total, 3),
        "export_cpu_s": round(cpu_t, 3),
        "file_bytes": sizes,
        "repeats": args.repeats,
        "loadavg_1min": round(os.getloadavg()[0], 2),
    }
    print(
        f"SDTM export, {args.subjects} subjects x {args.timepoints} timepoints x 2 readers "
        f"(load average {result['loadavg_1min']}):\n"
        f"  rows        TU {len(ds.tu):,}  TR {len(ds.tr):,}  RS {len(ds.rs):,}  "
        f"(notes: {len(ds.notes)})\n"
        f"  derive_sdtm {derive_t:7.2f} s   (engine x 2 criteria + rows)\n"
        f"  checks      {check_t:7.2f} s   (structure + CDISC terms)\n"
        f"  save_sdtm   {save_t:7.2f} s   (checks again + CSV + XPT v5 + define)\n"
        f"  export      {total:7.2f} s   (derive + save; aim < 10 s)\n"
        f"  export CPU  {cpu_t:7.2f} s   (CPU seconds of derive + save: less sensitive to a busy machine)"
    )
    OUT.mkdir(exist_ok=True)
    name = "results_sdtm_quick.json" if args.quick else "results_sdtm.json"
    (OUT / name).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
