"""Index a folder tree of DICOM files by headers only: studies, series, phases.

Pixel data is never read. Non-DICOM files, DICOMDIR files and hidden files are skipped and counted;
files that look like DICOM but cannot be parsed are counted as unreadable and reported one line
each in :attr:`FolderIndex.problems`; none of them stops the scan.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from readerstation.dicom.headers import (
    DICOMDIR_SOP_CLASS,
    FileHeader,
    NotDicomError,
    derive_uid,
    read_file_header,
)
from readerstation.dicom.phase import Phase, PhaseCriteria, PhaseEvidence, derive_study_phases
from readerstation.dicom.phase import parse_dicom_time as _tm
from readerstation.errors import DicomError, SeriesSelectionError

__all__ = ["FolderIndex", "SeriesInfo", "index_folder", "propose_arterial"]

_DICOM_SUFFIXES = (".dcm", ".dicom", ".ima", ".dc3")


@dataclass(frozen=True)
class SeriesInfo:
    """One series, as its headers describe it (no pixel data read).

    Parameters
    ----------
    series_uid, study_uid : str
        SeriesInstanceUID and StudyInstanceUID (derived ``2.25.`` UIDs, with a warning, when the
        files leave them empty).
    modality, description : str
        Modality and SeriesDescription.
    phase : Phase
        Contrast phase inferred by :func:`readerstation.dicom.phase.derive_study_phases`.
    n_images : int
        Number of 2-D images (frames, for multi-frame objects).
    rows, columns : int or None
        Image size in pixels.
    pixel_spacing_mm : (float, float) or None
        PixelSpacing as (row spacing, column spacing) = (y, x) mm.
    slice_thickness_mm : float or None
        SliceThickness (nominal; the distance between slices comes from the positions).
    orientation : tuple of 6 float or None
        ImageOrientationPatient of the first image.
    files : tuple of Path
        Every file of the series, sorted by path.
    is_image : bool
        False for SR, SEG, RWVM, PR and other non-image objects.
    frame_of_reference_uid, series_number, study_date, acquisition_time, contrast_agent
        Copied from the headers (acquisition_time is the earliest AcquisitionTime, DICOM TM).
    warnings : tuple of str
        Problems seen in the headers (missing UIDs, mixed orientations, unreadable files).
    phase_reason : str
        Which evidence decided ``phase``.
    headers : tuple of FileHeader
        The parsed headers (a cache for :func:`~readerstation.dicom.load.plan_series`; may be
        empty, then the files are read again).
    """

    series_uid: str
    study_uid: str
    modality: str
    description: str
    phase: Phase
    n_images: int
    rows: int | None
    columns: int | None
    pixel_spacing_mm: tuple[float, float] | None
    slice_thickness_mm: float | None
    orientation: tuple[float, ...] | None
    files: tuple[Path, ...]
    is_image: bool
    frame_of_reference_uid: str | None
    series_number: int | None
    study_date: str | None
    acquisition_time: str | None
    contrast_agent: str | None
    warnings: tuple[str, ...]
    phase_reason: str = ""
    headers: tuple[FileHeader, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.series_uid:
            raise DicomError("SeriesInfo.series_uid must not be empty; derive one from the headers")
        if self.n_images < 0:
            raise DicomError(f"SeriesInfo.n_images must be >= 0; received {self.n_images}")
        try:
            object.__setattr__(self, "phase", Phase(self.phase))
        except ValueError as exc:
            raise DicomError(
                f"SeriesInfo.phase must be one of {[p.value for p in Phase]}; got {self.phase!r}"
            ) from exc
        object.__setattr__(self, "files", tuple(Path(f) for f in self.files))
        object.__setattr__(self, "warnings", tuple(self.warnings))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with the keys of the ``readerstation index --json`` contract."""
        return {
            "series_uid": self.series_uid,
            "study_uid": self.study_uid,
            "modality": self.modality,
            "description": self.description,
            "phase": self.phase.value,
            "phase_reason": self.phase_reason,
            "n_images": self.n_images,
            "rows": self.rows,
            "columns": self.columns,
            "pixel_spacing_mm": list(self.pixel_spacing_mm) if self.pixel_spacing_mm else None,
            "slice_thickness_mm": self.slice_thickness_mm,
            "orientation": list(self.orientation) if self.orientation else None,
            "is_image": self.is_image,
            "frame_of_reference_uid": self.frame_of_reference_uid,
            "series_number": self.series_number,
            "study_date": self.study_date,
            "acquisition_time": self.acquisition_time,
            "contrast_agent": self.contrast_agent,
            "warnings": list(self.warnings),
            "files": [str(f) for f in self.files],
        }

    def __repr__(self) -> str:
        return (
            f"SeriesInfo(series_uid={self.series_uid!r}, modality={self.modality!r}, "
            f"description={self.description!r}, phase={self.phase.value}, "
            f"n_images={self.n_images}, size={self.rows}x{self.columns}, "
            f"pixel_spacing_mm={self.pixel_spacing_mm}, files={len(self.files)}, "
            f"warnings={len(self.warnings)})"
        )


@dataclass(frozen=True)
class FolderIndex:
    """The series found under a folder, plus what was skipped and why.

    Parameters
    ----------
    series : tuple of SeriesInfo
        Sorted by study, series number, modality and description.
    skipped : dict of str to int
        Counts of skipped entries: ``non_dicom``, ``dicomdir``, ``hidden``, ``unreadable``.
    problems : tuple of str
        One line per unreadable or unusable file: its path and what is wrong.
    """

    series: tuple[SeriesInfo, ...]
    skipped: dict[str, int]
    problems: tuple[str, ...] = ()

    def image_series(self) -> tuple[SeriesInfo, ...]:
        """The series that can be loaded as volumes (no SR, SEG, ...)."""
        return tuple(s for s in self.series if s.is_image)

    def find(self, series_uid: str) -> SeriesInfo:
        """The series with this SeriesInstanceUID (the image one if an SR shares the UID).

        Raises
        ------
        SeriesSelectionError
            When no series has that UID; the message lists the UIDs present.
        """
        matches = [s for s in self.series if s.series_uid == series_uid.strip()]
        images = [s for s in matches if s.is_image]
        if images:
            return images[0]
        if matches:
            return matches[0]
        listing = "; ".join(f"{s.series_uid} ({s.modality} {s.description!r})" for s in self.series)
        raise SeriesSelectionError(
            f"No series with SeriesInstanceUID {series_uid!r}; the folder holds: "
            f"{listing or 'no DICOM series'}. Pass one of these UIDs."
        )

    def __repr__(self) -> str:
        return (
            f"FolderIndex(series={len(self.series)}, image_series={len(self.image_series())}, "
            f"skipped={dict(self.skipped)}, problems={len(self.problems)})"
        )


# ---------------------------------------------------------------------------------- scanning
def _iter_files(root: Path, skipped: Counter[str]) -> Iterable[Path]:
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        hidden_dirs = [d for d in dirnames if d.startswith(".")]
        skipped["hidden"] += len(hidden_dirs)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                skipped["hidden"] += 1
                continue
            if name.upper() == "DICOMDIR":
                skipped["dicomdir"] += 1
                continue
            yield Path(dirpath) / name


def _most_common(values: Iterable[Any]) -> Any:
    counts = Counter(v for v in values if v is not None)
    return counts.most_common(1)[0][0] if counts else None


def _round_orientation(ori: tuple[float, ...] | None) -> tuple[float, ...] | None:
    return None if ori is None else tuple(round(v, 3) + 0.0 for v in ori)


def _group_key(h: FileHeader) -> tuple[str, str]:
    if h.series_uid:
        return (h.series_uid, h.modality)
    first = h.frames[0] if h.frames else None
    derived = derive_uid(
        "series",
        h.study_uid,
        h.frame_of_reference_uid,
        h.modality,
        h.series_number,
        h.description,
        h.rows,
        h.columns,
        _round_orientation(first.orientation if first else None),
    )
    return (derived, h.modality)


def _build_series(key: tuple[str, str], headers: list[FileHeader]) -> dict[str, Any]:
    headers = sorted(headers, key=lambda h: str(h.path))
    series_uid, modality = key
    warns: list[str] = []
    missing = Counter(m for h in headers for m in h.missing_uids)
    if missing:
        parts = ", ".join(f"{name} in {n} of {len(headers)} files" for name, n in missing.items())
        how = (
            "grouped by FrameOfReferenceUID, modality, series number, description, size and "
            "orientation"
            if "SeriesInstanceUID" in missing
            else "identifiers taken from the file meta or derived"
        )
        warns.append(f"empty UIDs ({parts}); {how}; derived identifiers start with 2.25.")
    study_uid = _most_common(h.study_uid or None for h in headers)
    if not study_uid:
        study_uid = derive_uid(
            "study",
            _most_common(h.frame_of_reference_uid for h in headers),
            _most_common(h.study_date for h in headers),
        )
    frames = [f for h in headers for f in h.frames]
    orientations = Counter(_round_orientation(f.orientation) for f in frames if f.orientation)
    if len(orientations) > 1:
        listing = "; ".join(f"{list(o or ())} x{n}" for o, n in orientations.most_common())
        warns.append(f"{len(orientations)} different ImageOrientationPatient values: {listing}")
    sizes = Counter((h.rows, h.columns) for h in headers if h.rows)
    if len(sizes) > 1:
        warns.append(f"{len(sizes)} different image sizes (rows x columns): {dict(sizes)}")
    broken = [h for h in headers if h.error]
    if broken:
        warns.append(
            f"{len(broken)} file(s) cannot be loaded, e.g. {broken[0].path.name}: {broken[0].error}"
        )
    notes = Counter(note for h in headers for note in h.notes)
    for note, n in notes.items():
        example = next(h.path.name for h in headers if note in h.notes)
        warns.append(f"{note} ({n} file(s), e.g. {example})")
    times = [t for t in (_tm(h.acquisition_time) for h in headers) if t is not None]
    first_time = None
    if times:
        earliest = min(times)
        first_time = next(
            h.acquisition_time for h in headers if _tm(h.acquisition_time) == earliest
        )
    first_ori = next((f.orientation for f in frames if f.orientation), None)
    return {
        "series_uid": series_uid,
        "study_uid": study_uid,
        "modality": modality,
        "description": _most_common(h.description for h in headers) or "",
        "n_images": sum(max(len(h.frames), 1) for h in headers),
        "rows": _most_common(h.rows for h in headers),
        "columns": _most_common(h.columns for h in headers),
        "pixel_spacing_mm": _most_common(f.pixel_spacing for f in frames),
        "slice_thickness_mm": _most_common(f.slice_thickness for f in frames),
        "orientation": first_ori,
        "files": tuple(h.path for h in headers),
        "is_image": all(h.is_image for h in headers),
        "frame_of_reference_uid": _most_common(h.frame_of_reference_uid for h in headers),
        "series_number": _most_common(h.series_number for h in headers),
        "study_date": _most_common(h.study_date for h in headers),
        "acquisition_time": first_time,
        "contrast_agent": _most_common(h.contrast_agent for h in headers),
        "bolus_start_s": _tm(_most_common(h.bolus_start_time for h in headers)),
        "acquisition_s": min(times) if times else None,
        "warnings": tuple(warns),
        "headers": tuple(headers),
    }


def index_folder(
    path: str | os.PathLike[str], *, criteria: PhaseCriteria | None = None
) -> FolderIndex:
    """Scan a folder tree (or one file) by headers only and group the files into series.

    Parameters
    ----------
    path : path-like
        A folder (scanned recursively) or a single file.
    criteria : PhaseCriteria, optional
        Thresholds and words for the contrast phase.

    Returns
    -------
    FolderIndex
        Series (image and non-image), skip counts and one problem line per unreadable file.

    Raises
    ------
    DicomError
        When ``path`` does not exist.
    """
    root = Path(path)
    if not root.exists():
        raise DicomError(f"{root} does not exist; pass a folder of DICOM files or one DICOM file")
    skipped: Counter[str] = Counter({"non_dicom": 0, "dicomdir": 0, "hidden": 0, "unreadable": 0})
    problems: list[str] = []
    groups: dict[tuple[str, str], list[FileHeader]] = {}
    for file in _iter_files(root, skipped):
        try:
            header = read_file_header(file)
        except NotDicomError as exc:
            if file.suffix.lower() in _DICOM_SUFFIXES:
                skipped["unreadable"] += 1
                size = file.stat().st_size if file.exists() else 0
                reason = (
                    "empty file (0 bytes)" if size == 0 else f"not a readable DICOM file ({exc})"
                )
                problems.append(f"{file}: {reason}")
            else:
                skipped["non_dicom"] += 1
            continue
        except Exception as exc:  # a corrupt header can raise almost anything inside pydicom
            skipped["unreadable"] += 1
            problems.append(f"{file}: header cannot be parsed ({type(exc).__name__}: {exc})")
            continue
        if header.sop_class_uid == DICOMDIR_SOP_CLASS:
            skipped["dicomdir"] += 1
            continue
        if header.error:
            problems.append(f"{file}: {header.error}")
        groups.setdefault(_group_key(header), []).append(header)

    built = [_build_series(key, hs) for key, hs in groups.items()]
    phases = derive_study_phases(
        [
            PhaseEvidence(
                key=f"{b['series_uid']}|{b['modality']}",
                study_uid=b["study_uid"],
                description=b["description"],
                contrast_agent=b["contrast_agent"],
                bolus_start_s=b["bolus_start_s"],
                acquisition_s=b["acquisition_s"],
                is_image=b["is_image"],
            )
            for b in built
        ],
        criteria,
    )
    series: list[SeriesInfo] = []
    for b in built:
        phase, reason = phases[f"{b['series_uid']}|{b['modality']}"]
        fields = {k: v for k, v in b.items() if k not in ("bolus_start_s", "acquisition_s")}
        series.append(SeriesInfo(phase=phase, phase_reason=reason, **fields))
    series.sort(
        key=lambda s: (
            s.study_uid,
            not s.is_image,
            s.series_number if s.series_number is not None else 1 << 30,
            s.modality,
            s.description,
            s.series_uid,
        )
    )
    return FolderIndex(series=tuple(series), skipped=dict(skipped), problems=tuple(problems))


def propose_arterial(series: Sequence[SeriesInfo]) -> SeriesInfo | None:
    """The arterial-phase series to read, or None when the headers do not make it clear.

    Among image series with phase ARTERIAL: one candidate is returned; several candidates of one
    study are reconstructions of the arterial acquisition, and the one with the thinnest slices
    (then most images) is returned if that choice is unique; candidates from several studies, or
    none, give None.
    """
    candidates = [s for s in series if s.is_image and s.phase is Phase.ARTERIAL]
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    if len({s.study_uid for s in candidates}) != 1:
        return None

    def rank(s: SeriesInfo) -> tuple[float, int]:
        thick = s.slice_thickness_mm if s.slice_thickness_mm is not None else float("inf")
        return (thick, -s.n_images)

    ordered = sorted(candidates, key=rank)
    if rank(ordered[0]) == rank(ordered[1]):
        return None
    return ordered[0]
