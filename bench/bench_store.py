"""Benchmark of the store's autosave: ``Repository.save_draft`` latency on SQLite.

A realistic read (5 targets, 2 of them liver with long-axis and viable lines, a porta hepatis
node with long and short axis, 2 non-targets) is autosaved N times, each save moving one end
point as a reader dragging a line would. Every save is one transaction: access checks, the
draft row update, an audit event with before/after JSON, the chain head update, and a commit
with ``synchronous=FULL`` in WAL mode. Prints median, p95 and max in ms, and the cost of
opening, reading back and signing (argon2id password check) for reference.

Usage::

    .venv/bin/python bench/bench_store.py [--saves 300] [--repeats 1] [--db URL] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from readerstation.model import (
    Lesion,
    LesionAssessment,
    LinePoints,
    Measurement,
    Subject,
    Timepoint,
    TimepointRead,
)
from readerstation.store import KdfParams, Repository, create_first_admin, open_store

SOP = "1.2.826.0.1.3680043.8.498.10"
PW = "bench-password-1"


def make_read(step: int) -> TimepointRead:
    """The draft after ``step`` edits: T1's end point moved by 0.1 mm per step."""
    lesions = []
    for k in range(5):
        z = -100.0 + 7.5 * k
        if k == 3:  # porta hepatis node: long and short axis
            les = Lesion("trk-4", "N1", "target", "porta_hepatis", "hilum", nodal=True)
            long_ = LinePoints((10.0, 20.0, z), (40.0, 20.0, z), SOP)
            short = LinePoints((25.0, 9.0, z), (25.0, 31.0, z), SOP)
            m = Measurement(
                "measured",
                long_axis_mm=long_.length_mm,
                short_axis_mm=short.length_mm,
                long_axis_line=long_,
                short_axis_line=short,
            )
        else:
            # at most 2 intrahepatic targets (RECIST 1.1), typical HCC (mRECIST): signable
            organ, seg = ("liver", ["VII", "VIII"][k]) if k < 2 else ("lung", None)
            les = Lesion(
                f"trk-{k + 1}",
                f"T{k + 1}",
                "target",
                organ,
                liver_segment=seg,
                typical_hcc=True if seg else None,
            )
            extra = 0.1 * step if k == 0 else 0.0
            long_ = LinePoints((0.0, 0.0, z), (30.0 + 5 * k + extra, 4.0, z), SOP)
            viable = LinePoints((2.0, 0.0, z), (18.0 + 2 * k, 3.0, z), SOP)
            m = Measurement(
                "measured",
                long_axis_mm=long_.length_mm,
                viable_long_axis_mm=viable.length_mm,
                long_axis_line=long_,
                viable_line=viable,
            )
        lesions.append(LesionAssessment(les, m))
    lesions.append(
        LesionAssessment(Lesion("trk-6", "NT1", "non_target", "lung"), non_target_status="present")
    )
    lesions.append(
        LesionAssessment(
            Lesion("trk-7", "NT2", "non_target", "portal_vein", kind="portal_vein_thrombosis"),
            non_target_status="present",
        )
    )
    return TimepointRead(
        Subject("BENCH-001"), Timepoint("TP0", dt.date(2024, 1, 5), SOP), "reader1", tuple(lesions)
    )


def run(url: str, saves: int) -> dict[str, float]:
    t0 = time.perf_counter()
    store = open_store(url)
    t_open = time.perf_counter() - t0
    kdf = KdfParams()  # the real argon2id parameters
    create_first_admin(store, "admin", PW, kdf=kdf)
    admin = Repository.login(store, "admin", PW, kdf=kdf)
    admin.add_user("reader1", "reader", PW)
    admin.add_subject(Subject("BENCH-001"))
    admin.add_timepoint("BENCH-001", Timepoint("TP0", dt.date(2024, 1, 5), SOP))
    admin.assign("BENCH-001", "reader1")
    t0 = time.perf_counter()
    repo = Repository.login(store, "reader1", PW, kdf=kdf)
    t_login = time.perf_counter() - t0
    reads = [make_read(i) for i in range(saves + 1)]
    saved = repo.save_draft(reads[0])  # creates the row
    lat = []
    for r in reads[1:]:
        t0 = time.perf_counter()
        repo.save_draft(r)
        lat.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    repo.get_read(saved.read_id)
    t_get = time.perf_counter() - t0
    t0 = time.perf_counter()
    repo.sign_read(saved.read_id, PW)
    t_sign = time.perf_counter() - t0
    t0 = time.perf_counter()
    ok = admin.verify_audit()
    t_verify = time.perf_counter() - t0
    if not ok.intact:
        raise SystemExit(f"audit chain broken after the benchmark: {ok}")
    store.close()
    lat.sort()
    return {
        "median": statistics.median(lat) * 1e3,
        "p95": lat[int(0.95 * (len(lat) - 1))] * 1e3,
        "max": lat[-1] * 1e3,
        "open": t_open * 1e3,
        "login": t_login * 1e3,
        "get": t_get * 1e3,
        "sign": t_sign * 1e3,
        "verify": t_verify * 1e3,
        "events": float(ok.n_events),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--saves", type=int, default=300, help="autosaves to time (default 300)")
    ap.add_argument("--repeats", type=int, default=1, help="repeat on fresh stores, report each")
    ap.add_argument("--db", default=None, help="store URL (default: a fresh SQLite file in /tmp)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 50 saves")
    args = ap.parse_args(argv)
    saves = 50 if args.quick else args.saves
    print(f"store autosave benchmark: {saves} saves of a 5-target read (7 lesions, 8 lines)")
    for k in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            url = args.db or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
            f = run(url, saves)
        print(
            f"run {k + 1}: save_draft median {f['median']:.1f} ms, p95 {f['p95']:.1f} ms, "
            f"max {f['max']:.1f} ms | open+migrate {f['open']:.0f} ms, login {f['login']:.0f} ms,"
            f" get_read {f['get']:.1f} ms, sign_read {f['sign']:.0f} ms, verify_audit of "
            f"{f['events']:.0f} events {f['verify']:.1f} ms"
        )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
