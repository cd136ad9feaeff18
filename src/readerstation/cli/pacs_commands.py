"""Sub-commands of the ``pacs`` group: scripted transfers with a DICOMweb PACS.

Contract (documented in the README, section "PACS"):

* ``readerstation pacs query --url URL [--subject CODE] [--json]`` lists the studies (all, or one
  subject's by trial code = PatientID) with their series; ``--json`` prints a list of study
  objects (:meth:`readerstation.dicom.pacs.PacsStudy.to_json`) each with a ``series`` list
  (:meth:`readerstation.dicom.pacs.PacsSeries.to_json`).
* ``readerstation pacs pull --url URL --series UID [--study UID] --out DIR [--force]`` retrieves
  one series into ``DIR/<SeriesInstanceUID>/`` (atomically) and prints that folder; with the
  global ``-v`` it prints progress on stderr. A series already in ``DIR`` is not fetched again.
* ``readerstation pacs push --url URL FILE...`` stores DICOM files (or folders of them) with
  STOW-RS and prints how many instances the PACS stored.

A PACS that is down or refuses exits with code 2 and a one-line message naming the URL.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``pacs query|pull|push`` to the top-level parser."""
    p_pacs = subparsers.add_parser(
        "pacs",
        help="query, retrieve from and store to a DICOMweb PACS",
        description="Scripted transfers with a DICOMweb PACS (QIDO-RS, WADO-RS, STOW-RS).",
    )
    sub = p_pacs.add_subparsers(dest="pacs_command", metavar="ACTION")
    sub.required = True

    def add_url(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--url",
            required=True,
            metavar="URL",
            help="DICOMweb base URL, e.g. http://127.0.0.1:8042/dicom-web",
        )
        p.add_argument(
            "--timeout", type=float, default=30.0, metavar="S", help="seconds (default 30)"
        )

    p_query = sub.add_parser(
        "query",
        help="list studies and their series",
        description="List the studies on the PACS (all, or one subject's) with their series.",
    )
    add_url(p_query)
    p_query.add_argument("--subject", metavar="CODE", help="subject trial code (PatientID)")
    p_query.add_argument("--json", action="store_true", help="print JSON")
    p_query.set_defaults(handler=run_query)

    p_pull = sub.add_parser(
        "pull",
        help="retrieve one series into a local folder",
        description=(
            "Retrieve one series (WADO-RS) into OUT/<SeriesInstanceUID>/ as DICOM files; the "
            "folder appears only once complete. Load it with `readerstation info`."
        ),
    )
    add_url(p_pull)
    p_pull.add_argument("--series", required=True, metavar="UID", help="SeriesInstanceUID")
    p_pull.add_argument("--study", metavar="UID", help="StudyInstanceUID (looked up if absent)")
    p_pull.add_argument("--out", required=True, metavar="DIR", help="local cache folder")
    p_pull.add_argument("--force", action="store_true", help="retrieve again even if cached")
    p_pull.set_defaults(handler=run_pull)

    p_push = sub.add_parser(
        "push",
        help="store DICOM files (SR, SEG, images) on the PACS",
        description="Store DICOM files, or every file under the given folders, with STOW-RS.",
    )
    add_url(p_push)
    p_push.add_argument("files", nargs="+", metavar="FILE", help="DICOM file or folder")
    p_push.set_defaults(handler=run_push)


def run_query(args: argparse.Namespace) -> int:
    """Handler of ``readerstation pacs query``."""
    from readerstation.dicom.pacs import DicomWebSource

    source = DicomWebSource(args.url, timeout=args.timeout)
    studies = source.query_studies(args.subject)
    listing = [(study, source.query_series(study.study_uid)) for study in studies]
    if args.json:
        out = [{**st.to_json(), "series": [s.to_json() for s in series]} for st, series in listing]
        print(json.dumps(out, indent=2))
        return 0
    who = f" for subject {args.subject}" if args.subject else ""
    print(f"{args.url}: {len(listing)} stud{'y' if len(listing) == 1 else 'ies'}{who}")
    for study, series in listing:
        print(
            f"{study.subject or '-'}  {study.study_date or '-'}  {study.study_id or '-'}  "
            f"{study.description or '(no description)'}  {study.study_uid}"
        )
        for s in series:
            number = str(s.series_number) if s.series_number is not None else "-"
            count = str(s.n_instances) if s.n_instances is not None else "?"
            print(
                f"  {number:>3} {s.modality:<4} {s.phase.value:<13} {count:>5}  "
                f"{s.description or '(no description)'}  {s.series_uid}"
            )
    return 0


def run_pull(args: argparse.Namespace) -> int:
    """Handler of ``readerstation pacs pull``."""
    from readerstation.dicom.pacs import DicomWebSource

    source = DicomWebSource(args.url, cache_dir=args.out, timeout=args.timeout)
    verbose = bool(getattr(args, "verbose", False))
    last = [-1]

    def progress(done: int, total: int) -> None:
        if not verbose:
            return
        percent = int(100 * done / total) if total else -1
        step = percent // 10 if percent >= 0 else done // 50
        if step != last[0] or done == total:
            last[0] = step
            of = f"/{total}" if total else ""
            print(f"pull {args.series}: {done}{of} instances", file=sys.stderr, flush=True)

    folder = source.retrieve_series(
        args.series, study_uid=args.study, progress=progress, force=args.force
    )
    print(folder)
    return 0


def run_push(args: argparse.Namespace) -> int:
    """Handler of ``readerstation pacs push``."""
    from readerstation.dicom.pacs import DicomWebSource

    source = DicomWebSource(args.url, timeout=args.timeout)
    result = source.push(args.files)
    print(f"{args.url}: stored {len(result.stored)} instance(s) from {len(result.files)} file(s)")
    for w in result.warnings:
        print(f"warning: {w}")
    return 0
