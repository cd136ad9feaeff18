"""Two readers' signed reads of the sample trial, with lines on the real sample images.

The demo and the tests of dual reading need reads whose lines lie on images an adjudicator can
open. :func:`derive_sample_reads` builds them from ``sample_dicom/ground_truth.json``:

* ``reader1`` measures exactly the ground-truth lines (long axis, viable part) on the arterial
  series and calls non-targets and new lesions as designed;
* ``reader2`` reads the same images with three realistic differences, one per subject:

  ======== ===================================================================================
  HCC-001  measurement variability only: every line 1.5 mm longer or shorter (no variable
           differs)
  HCC-002  calls a 12 mm focus at TP2 an unequivocal new lesion (it is not one): the date of
           progression differs (best response SD for both)
  HCC-003  misses the new lesion at TP1 and calls it from TP2: best response (SD vs PD) and
           date of progression differ
  ======== ===================================================================================

:func:`seed_dual_reads` signs them in a store set up by
:func:`~readerstation.reading.sample.seed_sample_trial` (same demo password), timepoint by
timepoint, as the readers would.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from readerstation.criteria.enums import NewLesionCall, NonTargetStatus
from readerstation.dicom.phase import Phase
from readerstation.errors import SampleDataError, StoreError
from readerstation.model.entities import (
    Lesion,
    LesionAssessment,
    LinePoints,
    Measurement,
    Subject,
    Timepoint,
    TimepointRead,
)
from readerstation.model.enums import LesionRole, LiverSegment, MeasurementState
from readerstation.reading.sample import DEMO_PASSWORD, _load_truth
from readerstation.store.engine import Store
from readerstation.store.passwords import KdfParams
from readerstation.store.repository import Repository

__all__ = ["SAMPLE_DUAL_DESIGN", "derive_sample_reads", "seed_dual_reads"]

SAMPLE_DUAL_DESIGN: dict[str, str] = {
    "HCC-001": "measurement variability only (+-1.5 mm): the readers agree",
    "HCC-002": "reader2 calls a new lesion at TP2 that is not one: progression date differs",
    "HCC-003": "reader2 misses the new lesion at TP1: best response and progression date differ",
}
"""What differs between the two readers, per subject (the designed discrepancies)."""

_NOISE_MM = 1.5
_FALSE_FOCUS_MM = 12.0
_FALSE_FOCUS_OFFSET_MM = (25.0, 20.0)  # (x, y) from the subject's T2 centre, same slice


def _point(p: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    return (float(p[0]), float(p[1]), float(p[2]))


def _line(ends: Sequence[Sequence[float]], uid: str, delta_mm: float = 0.0) -> LinePoints:
    """The line through ``ends``, ``delta_mm`` longer (shorter when negative), same centre."""
    a, b = np.asarray(ends[0], dtype=float), np.asarray(ends[1], dtype=float)
    if delta_mm:
        u = (b - a) / np.linalg.norm(b - a)
        a, b = a - u * delta_mm / 2, b + u * delta_mm / 2
    return LinePoints(_point(a), _point(b), uid)


def _measured(les: dict[str, Any], delta_mm: float) -> Measurement:
    uid = les["arterial_sop_instance_uid"]
    long_line = _line(les["long_axis_endpoints_lps_mm"], uid, delta_mm)
    viable_line = None
    viable = 0.0
    if les.get("viable_endpoints_lps_mm"):
        viable_line = _line(les["viable_endpoints_lps_mm"], uid, delta_mm)
        viable = viable_line.length_mm
    return Measurement(
        MeasurementState.MEASURED,
        long_axis_mm=long_line.length_mm,
        viable_long_axis_mm=viable,
        long_axis_line=long_line,
        viable_line=viable_line,
    )


def _segment(name: str | None) -> LiverSegment | None:
    """Couinaud segment I-VIII (the sample names sub-segments such as IVa)."""
    return None if name is None else LiverSegment(name.rstrip("ab"))


def _lesion(les: dict[str, Any], role: LesionRole) -> Lesion:
    organ = les["organ"]
    return Lesion(
        les["lesion"],
        les["lesion"],
        role,
        organ,
        liver_segment=_segment(les.get("segment")) if organ == "liver" else None,
        typical_hcc=True if organ == "liver" else None,
    )


def _false_focus(tp: dict[str, Any]) -> LesionAssessment:
    """Reader 2's 'new lesion' of HCC-002 TP2: a line in the liver beside T2, on its slice."""
    t2 = next(les for les in tp["lesions"] if les["lesion"] == "T2")
    cx, cy, cz = t2["centre_lps_mm"]
    dx, dy = _FALSE_FOCUS_OFFSET_MM
    half = _FALSE_FOCUS_MM / 2
    line = LinePoints(
        (cx + dx - half, cy + dy, cz),
        (cx + dx + half, cy + dy, cz),
        t2["arterial_sop_instance_uid"],
    )
    # the reader took it for a typical HCC (arterial enhancement), so mRECIST counts it too
    segment = _segment(t2["segment"])
    lesion = Lesion(
        "NEW1", "NEW1", LesionRole.NEW, "liver", liver_segment=segment, typical_hcc=True
    )
    m = Measurement(
        MeasurementState.MEASURED,
        long_axis_mm=line.length_mm,
        viable_long_axis_mm=line.length_mm,
        long_axis_line=line,
        viable_line=line,
    )
    return LesionAssessment(lesion, m)


def _read(subject: dict[str, Any], index: int, reader: str, second: bool) -> TimepointRead:
    tp = subject["timepoints"][index]
    code = subject["subject"]
    arterial = next(s for s in tp["series"] if s["phase"] == "ARTERIAL")
    start = subject.get("treatment_start")
    noise = (_NOISE_MM if index % 2 else -_NOISE_MM) if second and code == "HCC-001" else 0.0
    miss_new = second and code == "HCC-003" and index == 1
    lesions: list[LesionAssessment] = []
    for les in tp["lesions"]:
        if les["role"] == "TARGET":
            lesions.append(LesionAssessment(_lesion(les, LesionRole.TARGET), _measured(les, noise)))
        elif les["role"] == "NON_TARGET":
            lesions.append(
                LesionAssessment(
                    _lesion(les, LesionRole.NON_TARGET), non_target_status=NonTargetStatus.PRESENT
                )
            )
        elif not miss_new:
            lesions.append(LesionAssessment(_lesion(les, LesionRole.NEW), _measured(les, 0.0)))
    if second and code == "HCC-002" and index >= 2:
        lesions.append(_false_focus(subject["timepoints"][2]))
    has_new = any(a.lesion.role is LesionRole.NEW for a in lesions)
    return TimepointRead(
        Subject(code, dt.date.fromisoformat(start) if start else None),
        Timepoint(
            tp["timepoint"],
            dt.date.fromisoformat(tp["study_date"]),
            tp["study_instance_uid"],
            arterial["series_instance_uid"],
            Phase.ARTERIAL,
        ),
        reader,
        tuple(lesions),
        NewLesionCall.UNEQUIVOCAL if has_new else NewLesionCall.NONE,
    )


def derive_sample_reads(
    sample_root: str | os.PathLike[str], reader: str, *, second: bool
) -> list[TimepointRead]:
    """One reader's draft reads of every sample subject and timepoint, in reading order.

    Parameters
    ----------
    sample_root : path-like
        The sample trial folder (``sample_dicom/``, with ``ground_truth.json``).
    reader : str
        The reader's user name (carried by the reads).
    second : bool
        False: the ground truth exactly; True: the second reader's designed differences
        (:data:`SAMPLE_DUAL_DESIGN`).

    Raises
    ------
    SampleDataError
        No readable ground truth, or one without the lesion lines this needs.
    """
    truth = _load_truth(Path(sample_root))
    try:
        return [
            _read(subject, k, reader, second)
            for subject in truth["subjects"]
            for k in range(len(subject["timepoints"]))
        ]
    except (KeyError, StopIteration, TypeError, ValueError) as exc:
        raise SampleDataError(
            f"derive_sample_reads: ground_truth.json under {sample_root} lacks what the reads "
            f"need ({exc!r}); regenerate it with `readerstation sample generate`."
        ) from exc


def seed_dual_reads(
    store: Store,
    sample_root: str | os.PathLike[str],
    *,
    readers: tuple[str, str] = ("reader1", "reader2"),
    password: str = DEMO_PASSWORD,
    kdf: KdfParams | None = None,
) -> dict[str, list[TimepointRead]]:
    """Sign both readers' reads of the sample trial in a store seeded by ``seed_sample_trial``.

    Each reader logs in, saves each timepoint as a draft and signs it with the password, in
    scan-date order (as the store's gating requires), through the same Repository calls the
    workstation makes.

    Returns
    -------
    dict
        Reader name -> the signed reads, in signing order.
    """
    out: dict[str, list[TimepointRead]] = {}
    for slot, name in enumerate(readers):
        repo = Repository.login(store, name, password, kdf=kdf)
        signed = []
        for read in derive_sample_reads(sample_root, name, second=slot == 1):
            draft = repo.save_draft(read)
            if draft.read_id is None:
                raise StoreError(f"seed_dual_reads: the store returned no id for {draft!r}.")
            signed.append(repo.sign_read(draft.read_id, password))
        out[name] = signed
    return out
