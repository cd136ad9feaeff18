"""Dual reading in the store: import + discrepancy evaluation of a simulated two-reader trial.

For the 45-subject simulated trial (``readerstation.sample.dual_trial``) and for a 1,000-subject
one (the 45-subject design drawn with seeds 0, 1, 2... and renamed ``B0001``...), on a fresh
SQLite file (and PostgreSQL when ``--pg URL`` or ``$READERSTATION_TEST_PG_URL`` is given):

* ``import``: ``Repository.import_reads`` of every read (one transaction: subjects, timepoints,
  assignments, signed reads, one audit event each, then the evaluation of every subject);
* ``evaluation``: the part of the import spent comparing the two reads of each subject under
  RECIST 1.1 and mRECIST and recording discrepancies / acceptances;
* ``discrepancies``, ``agreement``: ``list_discrepancies()`` and ``agreement()`` afterwards.

Usage::

    .venv/bin/python bench/bench_dual.py            # 45 and 1,000 subjects, SQLite
    .venv/bin/python bench/bench_dual.py --quick    # 45 subjects only
    .venv/bin/python bench/bench_dual.py --pg postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from readerstation.sample.dual_trial import derive_dual_trial
from readerstation.store import KdfParams, Repository, create_first_admin, open_store

FAST_KDF = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
PW = "bench-password-1"


def trial_json(n_subjects: int) -> dict[str, Any]:
    """The reads JSON of ``n_subjects`` simulated subjects (45 per seed)."""
    if n_subjects <= 45:
        data = derive_dual_trial(0).reads_json
        keep = {f"SIM-{i:03d}" for i in range(1, n_subjects + 1)}
        return {"reads": [e for e in data["reads"] if e["subject"] in keep]}
    out: list[dict[str, Any]] = []
    seed = 0
    while len(out) < 2 * n_subjects:
        for e in derive_dual_trial(seed).reads_json["reads"]:
            k = int(e["subject"].split("-")[1]) + 45 * seed
            out.append(e | {"subject": f"B{k:04d}"})
        seed += 1
    return {"reads": out[: 2 * n_subjects]}


def run(url: str, n_subjects: int) -> dict[str, float]:
    data = trial_json(n_subjects)
    n_reads = sum(len(e["timepoints"]) for e in data["reads"])
    store = open_store(url)
    try:
        create_first_admin(store, "admin", PW, kdf=FAST_KDF)
        admin = Repository.login(store, "admin", PW, kdf=FAST_KDF)
        admin.add_user("reader1", "reader", PW)
        admin.add_user("reader2", "reader", PW)
        admin.add_user("adj", "adjudicator", PW)
        adj = Repository.login(store, "adj", PW, kdf=FAST_KDF)
        spent = [0.0]
        evaluate = admin._evaluate_subject

        def timed(s: Any, subject_id: int) -> tuple[int, int, int]:
            t = time.perf_counter()
            try:
                return evaluate(s, subject_id)
            finally:
                spent[0] += time.perf_counter() - t

        admin._evaluate_subject = timed  # type: ignore[method-assign]
        t0 = time.perf_counter()
        report = admin.import_reads(data)
        t_import = time.perf_counter() - t0
        t0 = time.perf_counter()
        found = admin.list_discrepancies()
        t_list = time.perf_counter() - t0
        t0 = time.perf_counter()
        adj.agreement()
        t_agree = time.perf_counter() - t0
        assert report.n_reads == n_reads, report
        return {
            "subjects": n_subjects,
            "reads": n_reads,
            "discrepancies": len(found),
            "import_s": round(t_import, 3),
            "evaluation_s": round(spent[0], 3),
            "import_ms_per_read": round(1000 * t_import / n_reads, 2),
            "evaluation_ms_per_subject": round(1000 * spent[0] / n_subjects, 2),
            "list_discrepancies_s": round(t_list, 3),
            "agreement_s": round(t_agree, 3),
        }
    finally:
        store.close()


def _pg_url(base: str) -> tuple[str, str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = "rs_bench_" + uuid.uuid4().hex[:10]
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def _pg_drop(base: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="45 subjects only")
    parser.add_argument("--pg", default=os.environ.get("READERSTATION_TEST_PG_URL"), help="PG URL")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    sizes = [45] if args.quick else [45, 1000]
    results = []
    print("dual reading: import + discrepancy evaluation (fresh store each run)")
    for n in sizes:
        with tempfile.TemporaryDirectory() as d:
            os.environ.setdefault("READERSTATION_AUDIT_KEY", "5a" * 32)
            r = run(f"sqlite:///{d}/bench.sqlite", n) | {"backend": "sqlite"}
        results.append(r)
        print(json.dumps(r))
        if args.pg:
            url, schema = _pg_url(args.pg)
            try:
                r = run(url, n) | {"backend": "postgresql"}
            finally:
                _pg_drop(args.pg, schema)
            results.append(r)
            print(json.dumps(r))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
