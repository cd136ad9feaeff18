"""Benchmark of the multi-site store: 6 workstation processes writing to PostgreSQL at once.

Each process is one reader at one workstation, connected as the application role (as a site
runs it; see README "Multi-site PostgreSQL"). After every process has logged in, they start
together: each autosaves ``--saves`` drafts of each of its ``--reads`` reads (a 5-target read,
one end point moved per save, as a reader dragging a line) and signs it (argon2id password check
with the real parameters, the RECIST 1.1 and mRECIST checks, the signature transaction). Every
write is one transaction with its audit event; all writers extend one hash chain (head row
locked per append). Prints reads signed per second (wall clock from the start signal to the last
signature), the median and p95 latency of ``save_draft`` and of ``sign_read``, and checks the
audit chain afterwards.

Usage::

    .venv/bin/python bench/bench_multisite.py [--workers 6] [--reads 5] [--saves 20] [--quick]
        [--db OWNER_URL] [--app-url APP_URL] [--repeats 1]

Without ``--db`` the test server of ``scripts/test-postgres.sh start`` is used (started if need
be); ``--app-url`` defaults to its ``app-url``. A private schema is created and dropped.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from readerstation.model import Subject, Timepoint
from readerstation.store import (
    KdfParams,
    Repository,
    create_first_admin,
    grant_app_role,
    open_store,
)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_store import SOP, make_read  # noqa: E402

PW = "bench-password-1"


def schema_url(base: str, schema: str) -> str:
    """``base`` with ``search_path`` set to ``schema``."""
    url = make_url(base)
    if url.get_driver_name() in ("", None):
        url = url.set(drivername="postgresql+psycopg")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def subject_code(worker: int, read: int) -> str:
    return f"BENCH-{worker:02d}-{read:03d}"


def workstation(
    url: str, worker: int, reads: int, saves: int, start: Any, kdf: KdfParams
) -> dict[str, Any]:
    """One workstation process: login, wait for the start signal, save and sign its reads."""
    store = open_store(url)
    try:
        name = f"reader{worker}"
        repo = Repository.login(store, name, PW, kdf=kdf)
        start.wait()
        t_start = time.time()
        save_lat: list[float] = []
        sign_lat: list[float] = []
        for j in range(reads):
            code = subject_code(worker, j)
            read_id = None
            for step in range(saves):
                draft = dataclasses.replace(
                    make_read(step), subject=Subject(code), reader=name, read_id=read_id
                )
                t0 = time.perf_counter()
                saved = repo.save_draft(draft)
                save_lat.append(time.perf_counter() - t0)
                read_id = saved.read_id
            assert read_id is not None
            t0 = time.perf_counter()
            repo.sign_read(read_id, PW)
            sign_lat.append(time.perf_counter() - t0)
        return {"start": t_start, "end": time.time(), "save": save_lat, "sign": sign_lat}
    finally:
        store.close()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))]


def run(
    owner_base: str,
    app_base: str | None,
    workers: int,
    reads: int,
    saves: int,
    *,
    kdf: KdfParams,
) -> None:
    """One benchmark run in a fresh schema; prints the figures."""
    schema = "rs_bench_" + uuid.uuid4().hex[:10]
    admin_engine = create_engine(schema_url(owner_base, "public"))
    with admin_engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        owner_url = schema_url(owner_base, schema)
        role = "owner (no --app-url)"
        url = owner_url
        with open_store(owner_url) as owner:
            if app_base:
                app_role = make_url(app_base).username or ""
                grant_app_role(owner, app_role)
                url = schema_url(app_base, schema)
                role = f"application role {app_role}"
        store = open_store(url)
        create_first_admin(store, "admin", PW, kdf=kdf)
        admin = Repository.login(store, "admin", PW, kdf=kdf)
        for w in range(workers):
            admin.add_user(f"reader{w}", "reader", PW)
            for j in range(reads):
                code = subject_code(w, j)
                admin.add_subject(Subject(code))
                admin.add_timepoint(code, Timepoint("TP0", make_read(0).timepoint.scan_date, SOP))
                admin.assign(code, f"reader{w}")
        n_before = admin.verify_audit().n_events
        ctx = multiprocessing.get_context("spawn")
        with ctx.Manager() as manager:
            # every worker logs in, then all (and this process) pass the barrier together
            start = manager.Barrier(workers + 1, timeout=600)
            with ctx.Pool(workers) as pool:
                jobs = [
                    pool.apply_async(workstation, (url, w, reads, saves, start, kdf))
                    for w in range(workers)
                ]
                start.wait()
                results = [j.get(timeout=3600) for j in jobs]
        t0 = min(r["start"] for r in results)
        t1 = max(r["end"] for r in results)
        save = [x for r in results for x in r["save"]]
        sign = [x for r in results for x in r["sign"]]
        t_verify = time.perf_counter()
        check = admin.verify_audit()
        t_verify = time.perf_counter() - t_verify
        store.close()
        if not check.intact:
            raise SystemExit(f"audit chain broken after the benchmark: {check}")
        n_signed = workers * reads
        print(
            f"{workers} writer processes as {role}: {n_signed} reads signed ({len(save)} autosaves) "
            f"in {t1 - t0:.1f} s = {n_signed / (t1 - t0):.2f} reads signed/s, "
            f"{len(save) / (t1 - t0):.0f} autosaves/s\n"
            f"  save_draft median {statistics.median(save) * 1e3:.1f} ms, p95 "
            f"{p95(save) * 1e3:.1f} ms, max {max(save) * 1e3:.1f} ms\n"
            f"  sign_read  median {statistics.median(sign) * 1e3:.0f} ms, p95 "
            f"{p95(sign) * 1e3:.0f} ms (argon2id t={kdf.time_cost}, {kdf.memory_kib // 1024} MiB, "
            f"p={kdf.parallelism})\n"
            f"  audit chain intact: {check.n_events} events ({check.n_events - n_before} during "
            f"the run), verified in {t_verify * 1e3:.0f} ms"
        )
        sys.stdout.flush()
    finally:
        with admin_engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin_engine.dispose()


def test_server() -> tuple[str, str]:
    """Owner and application URLs of the test server (started when not running)."""
    script = HERE.parent / "scripts" / "test-postgres.sh"
    owner = subprocess.run(
        ["bash", str(script), "start"], capture_output=True, text=True, check=True
    ).stdout.strip()
    app = subprocess.run(
        ["bash", str(script), "app-url"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return owner, app


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=6, help="writer processes (default 6)")
    ap.add_argument("--reads", type=int, default=5, help="reads signed per worker (default 5)")
    ap.add_argument("--saves", type=int, default=20, help="autosaves per read (default 20)")
    ap.add_argument("--db", default=None, help="owner URL (default: scripts/test-postgres.sh)")
    ap.add_argument("--app-url", default=None, help="application role URL (same server)")
    ap.add_argument("--repeats", type=int, default=1, help="repeat on fresh schemas")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 reads x 5 saves each")
    ap.add_argument(
        "--fast-kdf",
        action="store_true",
        help="cheap argon2id (1 pass, 1 MiB) to see the database's share of signing; the "
        "default is the real parameters, as signing re-checks the password",
    )
    args = ap.parse_args(argv)
    if args.db:
        owner, app = args.db, args.app_url
    else:
        owner, app = test_server()
        app = args.app_url or app
    reads, saves = (2, 5) if args.quick else (args.reads, args.saves)
    print(
        f"multi-site store benchmark: {args.workers} processes x {reads} reads x {saves} "
        "autosaves + 1 signature each, on PostgreSQL"
    )
    with tempfile.TemporaryDirectory() as tmp:
        # one audit key for the run, shared by every process (as a site shares its key file)
        os.environ["READERSTATION_AUDIT_KEY_FILE"] = str(Path(tmp) / "bench-audit.key")
        for k in range(args.repeats):
            print(f"run {k + 1}:")
            kdf = KdfParams(time_cost=1, memory_kib=1024, parallelism=1) if args.fast_kdf else None
            run(owner, app, args.workers, reads, saves, kdf=kdf or KdfParams())
    return 0


if __name__ == "__main__":
    sys.exit(main())
