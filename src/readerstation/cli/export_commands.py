"""Export commands: ``export --format sr|csv|json|sdtm --out DIR``, ``import-sr FILE...``.

``export`` reads the latest signed version of every read the acting user may see (an admin: all;
a reader: only their own, filtered by the Repository) and writes them to ``--out``:

* ``sr``: one DICOM SR TID 1500 Measurement Report per signed timepoint read,
  ``<subject>_<timepoint>_<role>.dcm``; the referenced images are found, indexed by headers,
  under ``--images DIR``, else ``$READERSTATION_IMAGES``, else the workstation's default
  ``sample_dicom/`` (under the current folder) when it exists (:func:`find_image_root`);
* ``csv``: ``reads.csv``, one row per lesion measurement;
* ``json``: ``reads.json``, the reads JSON of issue 5;
* ``sdtm``: TU, TR, RS (``readerstation.export.sdtm``); what could not be derived is printed as
  warnings on stderr.

Heavy modules (highdicom, the store, pandas) are imported inside the handlers so that
``readerstation --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from readerstation.cli.store_commands import _logged_in, _print_json
from readerstation.errors import AccessDenied, ExportError, ReaderstationError

if TYPE_CHECKING:
    from pydicom import Dataset

    from readerstation.criteria.enums import Response
    from readerstation.model.entities import TimepointRead
    from readerstation.store import Repository

__all__ = [
    "DEFAULT_IMAGES",
    "IMAGES_ENV",
    "derive_observer_roles",
    "derive_timepoint_responses",
    "find_image_root",
    "register",
]

FORMATS = ("sr", "csv", "json", "sdtm")

IMAGES_ENV = "READERSTATION_IMAGES"
"""Environment variable naming the folder of the trial's DICOM images (the workstation's image
source, as ``READERSTATION_DB`` names its store)."""

DEFAULT_IMAGES = Path("sample_dicom")
"""The workstation's default image folder, relative to the current folder (``make sample``)."""


def find_image_root(images: str | os.PathLike[str] | None) -> tuple[Path | None, str]:
    """The folder where the SR export looks for the referenced images, and how it was chosen.

    The store has no table of image sources, so the export looks where the workstation does:
    ``images`` (``--images DIR``), else ``$READERSTATION_IMAGES``, else ``sample_dicom/`` under
    the current folder when it exists.

    Returns
    -------
    (Path or None, str)
        The folder (None when there is none) and where it came from, for messages
        (``"--images"``, ``"$READERSTATION_IMAGES"``, ``"the default sample_dicom/"``).

    Raises
    ------
    ExportError
        ``--images`` or ``$READERSTATION_IMAGES`` names something that is not a folder.
    """
    for value, origin in ((images, "--images"), (os.environ.get(IMAGES_ENV), f"${IMAGES_ENV}")):
        if value:
            root = Path(value)
            if not root.is_dir():
                raise ExportError(
                    f"export sr: {origin} names {root}, which is not a folder; give the folder "
                    "that holds the trial's DICOM files."
                )
            return root, origin
    if DEFAULT_IMAGES.is_dir():
        return DEFAULT_IMAGES, f"the default {DEFAULT_IMAGES}/"
    return None, ""


def derive_observer_roles(repo: Repository) -> tuple[dict[tuple[str, str], str], str | None]:
    """``(subject, reader) -> "Reader <slot>"`` from the store's assignments, and a warning.

    An admin gets every reader's slot (:meth:`~readerstation.store.Repository.list_assignments`),
    a reader their own (:meth:`~readerstation.store.Repository.list_own_assignments`). Falls back
    to an empty mapping (every reader is ``"Reader"``) with a warning when the user may not list
    them.
    """
    from readerstation.model.enums import UserRole

    own = repo.user.role is UserRole.READER
    try:
        assignments = repo.list_own_assignments() if own else repo.list_assignments()
    except AccessDenied:
        return {}, "this user may not list assignments; readers are exported as 'Reader'"
    return {(a.subject, a.reader): f"Reader {a.slot}" for a in assignments}, None


def derive_timepoint_responses(
    reads: list[TimepointRead], criteria: tuple[str, ...] = ("recist1.1", "mrecist")
) -> tuple[dict[tuple[str, str, str], dict[str, Response]], dict[tuple[str, str, str], int]]:
    """Timepoint responses and timepoint orders of every (subject, reader, label) by the engine.

    A subject/reader whose reads the engine cannot evaluate (no baseline, missing dates) gets no
    responses (the SR then carries the measurements only); its order is by scan date then label.
    """
    from readerstation.criteria.params import criteria_from_name
    from readerstation.engine.subject import derive_subject_response
    from readerstation.model.timeline import to_subject_timeline

    groups: dict[tuple[str, str], list[TimepointRead]] = defaultdict(list)
    for r in reads:
        groups[(r.subject.code, r.reader)].append(r)
    responses: dict[tuple[str, str, str], dict[str, Response]] = defaultdict(dict)
    orders: dict[tuple[str, str, str], int] = {}
    for (subject, reader), rs in groups.items():
        ordered = sorted(
            rs,
            key=lambda r: (
                r.timepoint.scan_date is None,
                r.timepoint.scan_date,
                r.timepoint.label,
            ),
        )
        for i, r in enumerate(ordered):
            orders[(subject, reader, r.timepoint.label)] = i + 1
        for name in criteria:
            try:
                result = derive_subject_response(
                    to_subject_timeline(ordered, name), criteria_from_name(name)
                )
            except ReaderstationError:
                continue
            for r, tp in zip(ordered, result.timepoints, strict=False):
                if tp.overall_response is not None:
                    responses[(subject, reader, r.timepoint.label)][name] = tp.overall_response
    return dict(responses), orders


class _ImageFinder:
    """Image headers by SOPInstanceUID, found by series under a root folder."""

    def __init__(self, root: Path | None, origin: str = "--images") -> None:
        self.root = root
        self.origin = origin
        self._source: Any = None
        self._by_series: dict[str, list[Dataset]] = {}

    def series_images(self, read: TimepointRead) -> list[Dataset]:
        from pydicom import dcmread

        uid = read.timepoint.series_uid
        if self.root is None:
            raise ExportError(
                f"export sr: {read.subject.code}/{read.timepoint.label}: no image folder to find "
                f"the referenced images in (no --images, no ${IMAGES_ENV}, no "
                f"{DEFAULT_IMAGES}/ here); pass --images DIR, the folder that holds the trial's "
                "DICOM files."
            )
        if uid is None:
            raise ExportError(
                f"export sr: {read.subject.code}/{read.timepoint.label} has no series UID; the "
                "read cannot reference its images."
            )
        if uid in self._by_series:
            return self._by_series[uid]
        from readerstation.reading.images import DicomFolderSource

        if self._source is None:
            self._source = DicomFolderSource(self.root)
        folder = self._source.subject_folder(read.subject.code)
        try:
            info = self._source.index(folder).find(uid)
        except ReaderstationError:
            raise ExportError(
                f"export sr: {read.subject.code}/{read.timepoint.label}: series {uid} not found "
                f"under {folder} ({self.origin}); pass --images DIR with the folder that holds "
                "it."
            ) from None
        images: list[Dataset] = [dcmread(p, stop_before_pixels=True) for p in info.files]
        self._by_series[uid] = images
        return images


def _filename(read: TimepointRead, role: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in role)
    return f"{read.subject.code}_{read.timepoint.label}_{safe}.dcm"


def _export_sr(args: argparse.Namespace, reads: list[TimepointRead], roles: Any) -> int:
    from readerstation.export.sr import save_sr

    responses, orders = derive_timepoint_responses(reads)
    root, origin = find_image_root(args.images)
    finder = _ImageFinder(root, origin)
    out = Path(args.out)
    for r in reads:
        role = roles.get((r.subject.code, r.reader), "Reader")
        key = (r.subject.code, r.reader, r.timepoint.label)
        save_sr(
            r,
            finder.series_images(r),
            out / _filename(r, role),
            observer_role=role,
            responses=responses.get(key),
            time_point_order=orders.get(key),
            blinded=not args.unblinded,
        )
    print(f"wrote {len(reads)} SR document(s) to {out}")
    return 0


def _export_sdtm(args: argparse.Namespace, repo: Repository) -> int:
    from readerstation.export.sdtm import export_from_repository

    def warn(note: str) -> None:
        print(f"readerstation export: warning: {note}", file=sys.stderr)

    paths = export_from_repository(repo, Path(args.out), study_id=args.study_id, report=warn)
    print(f"wrote {len(paths)} SDTM file(s) to {args.out}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    with _logged_in(args) as repo:
        if args.format == "sdtm":
            return _export_sdtm(args, repo)
        reads = repo.export_reads(args.subject)
        roles, warning = derive_observer_roles(repo)
    if warning and args.format != "json":
        print(f"readerstation export: warning: {warning}", file=sys.stderr)
    out = Path(args.out)
    if args.format == "sr":
        return _export_sr(args, reads, roles)
    if args.format == "csv":
        from readerstation.export.tables import save_reads_csv

        path = save_reads_csv(reads, out / "reads.csv", reader_role=roles)
    else:
        from readerstation.export.tables import save_reads_json

        path = save_reads_json(reads, out / "reads.json")
    print(f"wrote {len(reads)} read(s) to {path}")
    return 0


def _cmd_import_sr(args: argparse.Namespace) -> int:
    from readerstation.export.sr import load_sr_report
    from readerstation.model.reads_json import reads_to_json

    reports = [load_sr_report(p) for p in args.files]
    reads = [rep.read for rep in reports]
    if args.store:
        with _logged_in(args) as repo:
            report = repo.import_reads(reads_to_json(reads))
        print(report)
        return 0
    if args.json:
        _print_json(reads_to_json(reads))
        return 0
    for rep in reports:
        r = rep.read
        resp = ", ".join(f"{k} {v.value}" for k, v in rep.responses.items()) or "no response"
        print(f"{rep.path}: {r.subject.code}/{r.timepoint.label} {rep.observer_role}: {resp}")
        for a in r.lesions:
            m = a.measurement
            if a.non_target_status is not None:
                what = a.non_target_status.value
            elif m is None:
                what = "-"
            else:
                nums = [
                    f"{n} {v:.1f} mm"
                    for n, v in (
                        ("long", m.long_axis_mm),
                        ("short", m.short_axis_mm),
                        ("viable", m.viable_long_axis_mm),
                    )
                    if v is not None
                ]
                what = m.state.value + (": " + ", ".join(nums) if nums else "")
            print(f"  {a.lesion.label:<6} {a.lesion.role.value:<10} {a.lesion.organ:<12} {what}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``export`` and ``import-sr`` to the top-level parser's sub-parsers."""
    p = subparsers.add_parser(
        "export",
        help="export signed reads as DICOM SR, CSV, JSON or SDTM",
        description="Export the latest signed version of every read you may see (admin: all; "
        "reader: your own). sr: one TID 1500 .dcm per timepoint read (images from --images, "
        f"${IMAGES_ENV} or ./{DEFAULT_IMAGES}); csv: "
        "reads.csv, one row per lesion; json: reads.json (issue-5 reads JSON); sdtm: TU/TR/RS.",
    )
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument(
        "--images",
        metavar="DIR",
        help=f"folder with the DICOM images the reads reference (sr; default: ${IMAGES_ENV}, "
        f"else ./{DEFAULT_IMAGES} when it exists)",
    )
    p.add_argument("--subject", metavar="CODE", help="only this subject")
    p.add_argument("--study-id", metavar="ID", default="READERSTATION", help="STUDYID (sdtm)")
    p.add_argument(
        "--unblinded",
        action="store_true",
        help="sr: put the reader's account name in the SR (default: trial role only)",
    )
    p.set_defaults(handler=_cmd_export)

    p = subparsers.add_parser(
        "import-sr",
        help="read DICOM SR measurement reports back into reads",
        description="Read TID 1500 SR files written by 'export --format sr' and print their "
        "reads (or the reads JSON with --json, or import them into the store with --store).",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the reads JSON")
    p.add_argument(
        "--store", action="store_true", help="import the reads into the store (--db, --user)"
    )
    p.set_defaults(handler=_cmd_import_sr)
