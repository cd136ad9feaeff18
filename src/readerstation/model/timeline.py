"""From a subject's signed reads to the response engine's :class:`SubjectTimeline`.

The engine matches lesions across timepoints by the ``lesion`` id of its records; the reads use
the lesion *label* (``T1``, ``NT1``...), which RECIST 1.1 keeps from baseline to the end.
"""

from __future__ import annotations

from collections.abc import Iterable

from readerstation.criteria.enums import DiameterCall, NewLesionCall
from readerstation.criteria.params import ResponseCriteria
from readerstation.engine.model import (
    Assessment,
    NewLesion,
    NonTargetAssessment,
    SubjectTimeline,
    TargetMeasurement,
)
from readerstation.errors import ModelError
from readerstation.model.entities import LesionAssessment, TimepointRead, resolve_criteria
from readerstation.model.enums import MeasurementState

__all__ = ["to_assessment", "to_subject_timeline"]


def _target_diameter(
    a: LesionAssessment, criteria: ResponseCriteria
) -> float | DiameterCall | None:
    m = a.measurement
    if m is None:
        return None
    if m.state is MeasurementState.MEASURED:
        return a.diameter_mm(criteria)
    return m.state.to_diameter_call()


def to_assessment(read: TimepointRead, criteria_name: ResponseCriteria | str) -> Assessment:
    """One timepoint read as the engine's :class:`Assessment` for ``criteria_name``.

    Parameters
    ----------
    read : TimepointRead
        A read with a scan date.
    criteria_name : ResponseCriteria or str
        The criteria or their name. ``"recist1.1"``: long axis (short axis for nodes);
        ``"mrecist"``: viable long axis for intrahepatic lesions, long axis elsewhere, short axis
        for nodes (:meth:`LesionAssessment.diameter_mm`), and new lesions passed with size and
        HCC typicality so that mRECIST's new-lesion rule decides.
    """
    criteria = resolve_criteria(criteria_name)
    date = read.timepoint.scan_date
    if date is None:
        raise ModelError(
            f"TimepointRead {read.subject.code}/{read.timepoint.label}: the response engine needs "
            "the scan date, received None (dates hidden); convert reads loaded by an admin."
        )
    targets = tuple(
        TargetMeasurement(
            a.lesion.label, a.lesion.organ, a.lesion.nodal, _target_diameter(a, criteria)
        )
        for a in read.targets
    )
    non_targets = tuple(
        NonTargetAssessment(
            a.lesion.label,
            a.non_target_status,  # type: ignore[arg-type]  # checked: non-targets have one
            a.lesion.kind,
            a.cytology_confirmed,
        )
        for a in read.non_targets
    )
    new: NewLesionCall | tuple[NewLesion, ...] = read.new_lesion_call
    if criteria.new_lesion_requires_typical_hcc and read.new_lesions:
        details = []
        for a in read.new_lesions:
            m = a.measurement
            size = None
            if m is not None and m.state is MeasurementState.MEASURED:
                size = m.long_axis_mm if m.long_axis_mm is not None else m.viable_long_axis_mm
            details.append(
                NewLesion(
                    lesion=a.lesion.label,
                    organ=a.lesion.organ,
                    kind=a.lesion.kind,
                    diameter_mm=size,
                    typical_hcc=a.lesion.typical_hcc,
                    cytology_confirmed=a.cytology_confirmed,
                    equivocal=read.new_lesion_call is NewLesionCall.EQUIVOCAL,
                )
            )
        new = tuple(details)
    return Assessment(date=date, targets=targets, non_targets=non_targets, new_lesions=new)


def to_subject_timeline(
    reads: Iterable[TimepointRead], criteria_name: ResponseCriteria | str
) -> SubjectTimeline:
    """A subject's signed reads (one reader) as the engine's :class:`SubjectTimeline`.

    Parameters
    ----------
    reads : iterable of TimepointRead
        Signed reads of one subject by one reader; when a timepoint has several versions
        (amendments), the highest version is used. Order does not matter: timepoints are sorted
        by scan date, the earliest being the baseline.
    criteria_name : ResponseCriteria or str
        The criteria, or ``"recist1.1"`` / ``"mrecist"``.

    Returns
    -------
    SubjectTimeline
        ``treatment_start`` is the subject's, or the baseline scan date when unknown.

    Raises
    ------
    ModelError
        Empty input, drafts, several subjects or readers, or a missing scan date.
    """
    criteria = resolve_criteria(criteria_name)
    latest: dict[str, TimepointRead] = {}
    subjects: set[str] = set()
    readers: set[str] = set()
    for r in reads:
        if not isinstance(r, TimepointRead):
            raise ModelError(f"to_subject_timeline: expected TimepointRead items, received {r!r}.")
        if not r.is_signed:
            raise ModelError(
                f"to_subject_timeline: {r.subject.code}/{r.timepoint.label} is a draft; only "
                "signed reads feed the response engine. Sign it or leave it out."
            )
        subjects.add(r.subject.code)
        readers.add(r.reader)
        old = latest.get(r.timepoint.label)
        if old is None or r.version > old.version:
            latest[r.timepoint.label] = r
    if not latest:
        raise ModelError(
            "to_subject_timeline: expected the signed reads of a subject, received none."
        )
    if len(subjects) > 1 or len(readers) > 1:
        raise ModelError(
            "to_subject_timeline: expected the reads of one subject by one reader, received "
            f"subjects {sorted(subjects)} and readers {sorted(readers)}; convert them one by one."
        )
    ordered = sorted(
        latest.values(), key=lambda r: (r.timepoint.scan_date is None, r.timepoint.scan_date)
    )
    assessments = tuple(to_assessment(r, criteria) for r in ordered)
    first = ordered[0]
    start = first.subject.treatment_start or assessments[0].date
    try:
        return SubjectTimeline(
            subject=first.subject.code, treatment_start=start, assessments=assessments
        )
    except ValueError as exc:  # CriteriaError from the engine's own checks
        raise ModelError(f"to_subject_timeline: {exc}") from exc
