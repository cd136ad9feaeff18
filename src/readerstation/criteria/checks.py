"""Checks of a lesion set that a reader sees while measuring (RECIST 1.1 and mRECIST).

:func:`check_timepoint_read` looks at one :class:`~readerstation.model.TimepointRead` (a draft
or a signed read) and returns :class:`Finding` objects: what is wrong, on which lesion, and what
to do. ``BLOCKING`` findings are violations of the criteria that must be fixed before the read
can be signed; ``WARNING`` findings are shown but do not block (the read is valid but the
response will, for example, be NE).

Every threshold comes from the criteria parameter object
(:class:`~readerstation.criteria.params.ResponseCriteria`; sources in its docstring):

* Baseline, RECIST 1.1 (Eisenhauer et al. 2009, 3.1.1, 3.3.1, appendix II): a non-nodal target
  is measurable when its long axis is >= ``min_measurable_mm`` (10 mm) and >=
  ``measurable_slice_thickness_factor`` (2) x the slice thickness; a nodal target needs a short
  axis >= ``min_measurable_node_mm`` (15 mm); a node of 10-15 mm is a non-target and one below
  ``node_normal_short_axis_mm`` (10 mm) is normal. At most ``max_targets`` (5) targets and
  ``max_targets_per_organ`` (2) per organ, all lymph nodes counting as one organ; no new
  lesions and every non-target present.
* Baseline, mRECIST (Lencioni & Llovet 2010): intrahepatic targets must be typical HCC with
  arterial enhancement (``target_requires_typical_hcc``) and have a viable diameter >= 10 mm
  (``target_uses_viable_diameter``); at most ``max_intrahepatic_targets`` (2); porta hepatis
  nodes are malignant only from ``porta_hepatis_node_min_mm`` (20 mm) short axis.
* Follow-up (``baseline`` given): every baseline target and non-target must be assessed, with the
  tracking id and label it had at baseline and the same role; targets or non-targets that were
  not in the baseline are refused (a lesion that appears is a *new* lesion). A target not
  evaluated is a warning (the timepoint becomes NE unless it is PD otherwise); under mRECIST an
  intrahepatic target needs its viable diameter, and a new lesion called unequivocal that
  mRECIST's rule counts as equivocal is a warning.
* Any timepoint: a viable diameter longer than the lesion's long axis (beyond
  ``viable_over_long_axis_tolerance_mm``) is refused: the viable part lies inside the lesion.

Examples
--------
>>> import datetime as dt
>>> from readerstation.model import (Lesion, LesionAssessment, Measurement, Subject,
...     Timepoint, TimepointRead)
>>> from readerstation.criteria import Recist11Criteria
>>> t1 = Lesion("L-1", "T1", "target", "lung")
>>> read = TimepointRead(Subject("HCC-001"), Timepoint("TP0", dt.date(2024, 1, 8)), "reader1",
...     lesions=(LesionAssessment(t1, Measurement("measured", long_axis_mm=8.0)),))
>>> [f.code.value for f in check_timepoint_read(read, criteria=Recist11Criteria())]
['target_not_measurable']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from readerstation.criteria.enums import NewLesionCall, NonTargetStatus
from readerstation.criteria.organs import (
    LIVER,
    LYMPH_NODES,
    PORTA_HEPATIS,
    is_intrahepatic,
    normalise_organ,
    organ_group,
    uses_viable_diameter,
)
from readerstation.criteria.params import ResponseCriteria, criteria_from_name
from readerstation.criteria.rules import compute_new_lesion_call
from readerstation.errors import CriteriaError
from readerstation.model.enums import LesionRole, MeasurementState

if TYPE_CHECKING:
    from readerstation.model.entities import LesionAssessment, TimepointRead

__all__ = [
    "Finding",
    "FindingCode",
    "Severity",
    "check_timepoint_read",
    "has_blocking_findings",
]


class Severity(StrEnum):
    """How a finding affects signing."""

    BLOCKING = "blocking"
    """The criteria are violated: the read cannot be signed until it is fixed."""
    WARNING = "warning"
    """Shown to the reader; signing is allowed."""


class FindingCode(StrEnum):
    """What a finding is about (stable codes for the UI, exports and tests)."""

    TARGET_NOT_MEASURABLE = "target_not_measurable"
    NODE_NOT_PATHOLOGICAL = "node_not_pathological"
    PORTA_HEPATIS_NODE_NOT_MALIGNANT = "porta_hepatis_node_not_malignant"
    TARGET_NOT_TYPICAL_HCC = "target_not_typical_hcc"
    TARGET_NOT_MEASURED = "target_not_measured"
    TOO_MANY_TARGETS = "too_many_targets"
    TOO_MANY_TARGETS_IN_ORGAN = "too_many_targets_in_organ"
    TOO_MANY_INTRAHEPATIC_TARGETS = "too_many_intrahepatic_targets"
    NON_TARGET_NOT_PRESENT_AT_BASELINE = "non_target_not_present_at_baseline"
    NEW_LESION_AT_BASELINE = "new_lesion_at_baseline"
    NO_TARGET_LESIONS = "no_target_lesions"
    BASELINE_LESION_NOT_ASSESSED = "baseline_lesion_not_assessed"
    LESION_ID_CHANGED = "lesion_id_changed"
    LESION_ROLE_CHANGED = "lesion_role_changed"
    NEW_TARGET_AT_FOLLOW_UP = "new_target_at_follow_up"
    NEW_NON_TARGET_AT_FOLLOW_UP = "new_non_target_at_follow_up"
    TARGET_NOT_EVALUATED = "target_not_evaluated"
    VIABLE_DIAMETER_MISSING = "viable_diameter_missing"
    NEW_LESION_EQUIVOCAL = "new_lesion_equivocal"
    VIABLE_EXCEEDS_LONG_AXIS = "viable_exceeds_long_axis"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem of a timepoint read.

    Attributes
    ----------
    code : FindingCode
        What kind of problem.
    severity : Severity
        ``BLOCKING`` (signing refused) or ``WARNING``.
    lesion : str or None
        Label of the lesion concerned (``"T1"``), None for the read as a whole.
    message : str
        What is wrong (with the numbers) and what to do.
    """

    code: FindingCode
    severity: Severity
    lesion: str | None
    message: str

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "code", FindingCode(self.code))
            object.__setattr__(self, "severity", Severity(self.severity))
        except ValueError as exc:
            raise CriteriaError(f"Finding: {exc}; use a FindingCode and a Severity.") from None
        if self.lesion is not None and not isinstance(self.lesion, str):
            raise CriteriaError(f"Finding.lesion: expected a label or None, got {self.lesion!r}.")
        if not isinstance(self.message, str) or not self.message.strip():
            raise CriteriaError("Finding.message: expected a non-empty message.")

    @property
    def blocking(self) -> bool:
        """True when this finding blocks signing."""
        return self.severity is Severity.BLOCKING

    def __repr__(self) -> str:
        where = f" {self.lesion}" if self.lesion else ""
        return f"Finding({self.severity.value.upper()} {self.code.value}{where}: {self.message})"


def has_blocking_findings(findings: Sequence[Finding]) -> bool:
    """True when any finding blocks signing."""
    return any(f.severity is Severity.BLOCKING for f in findings)


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _organ_of(a: LesionAssessment) -> str:
    """The organ a target counts against (:func:`~readerstation.criteria.organs.organ_group`)."""
    return organ_group(a.lesion.organ, a.lesion.nodal)


def _is_intrahepatic(a: LesionAssessment) -> bool:
    return is_intrahepatic(a.lesion.organ, a.lesion.nodal)


def _uses_viable(a: LesionAssessment, criteria: ResponseCriteria) -> bool:
    return uses_viable_diameter(criteria, a.lesion.organ, a.lesion.nodal)


def _check_baseline_target(
    a: LesionAssessment,
    criteria: ResponseCriteria,
    slice_thickness_mm: float | None,
) -> list[Finding]:
    les, m = a.lesion, a.measurement
    label, cname = les.label, criteria.name
    out: list[Finding] = []
    if criteria.target_requires_typical_hcc and _is_intrahepatic(a) and not les.typical_hcc:
        said = "not assessed" if les.typical_hcc is None else "not typical"
        out.append(
            Finding(
                FindingCode.TARGET_NOT_TYPICAL_HCC,
                Severity.BLOCKING,
                label,
                f"{label}: an intrahepatic {cname} target must be a typical HCC with "
                f"intratumoral arterial enhancement, but it is marked {said}. Mark it typical "
                "if it is, or make it a non-target lesion.",
            )
        )
    if m is None or m.state is not MeasurementState.MEASURED:
        state = "no measurement" if m is None else f"state '{m.state.value}'"
        out.append(
            Finding(
                FindingCode.TARGET_NOT_MEASURED,
                Severity.BLOCKING,
                label,
                f"{label}: a baseline target must be measured, but it has {state}. Measure it, "
                "or make it a non-target lesion if it cannot be measured.",
            )
        )
        return out
    if les.nodal:
        short = m.short_axis_mm
        if short is None:  # the model refuses this; kept for drafts built otherwise
            return out
        porta = normalise_organ(les.organ) == PORTA_HEPATIS
        limit = criteria.porta_hepatis_node_min_mm if porta else criteria.min_measurable_node_mm
        if short < limit:
            if porta and criteria.porta_hepatis_node_min_mm > criteria.min_measurable_node_mm:
                out.append(
                    Finding(
                        FindingCode.PORTA_HEPATIS_NODE_NOT_MALIGNANT,
                        Severity.BLOCKING,
                        label,
                        f"{label}: a porta hepatis node counts as malignant by {cname} only "
                        f"from {_fmt(limit)} mm short axis (nodes enlarge in cirrhosis); this one "
                        f"is {_fmt(short)} mm. Do not select it as a target.",
                    )
                )
            elif short < criteria.node_normal_short_axis_mm:
                out.append(
                    Finding(
                        FindingCode.NODE_NOT_PATHOLOGICAL,
                        Severity.BLOCKING,
                        label,
                        f"{label}: a lymph node with a short axis of {_fmt(short)} mm (< "
                        f"{_fmt(criteria.node_normal_short_axis_mm)} mm) is normal by {cname}. "
                        "Remove it from the lesions.",
                    )
                )
            else:
                out.append(
                    Finding(
                        FindingCode.NODE_NOT_PATHOLOGICAL,
                        Severity.BLOCKING,
                        label,
                        f"{label}: a lymph node needs a short axis >= {_fmt(limit)} mm to be a "
                        f"target ({cname}); this one is {_fmt(short)} mm "
                        f"({_fmt(criteria.node_normal_short_axis_mm)}-{_fmt(limit)} mm: "
                        "pathological but not measurable). Make it a non-target lesion.",
                    )
                )
        return out
    viable = _uses_viable(a, criteria)
    value = m.viable_long_axis_mm if viable else m.long_axis_mm
    what = "viable (arterially enhancing) diameter" if viable else "long axis"
    if value is None:
        out.append(
            Finding(
                FindingCode.VIABLE_DIAMETER_MISSING if viable else FindingCode.TARGET_NOT_MEASURED,
                Severity.BLOCKING,
                label,
                f"{label}: {cname} measures this target by its {what}, which is missing. Draw it.",
            )
        )
        return out
    limit = criteria.min_measurable_mm
    reason = f"{_fmt(limit)} mm"
    if slice_thickness_mm is not None:
        by_slices = criteria.measurable_slice_thickness_factor * slice_thickness_mm
        if by_slices > limit:
            limit = by_slices
            reason = (
                f"{_fmt(by_slices)} mm = {_fmt(criteria.measurable_slice_thickness_factor)} x the "
                f"{_fmt(slice_thickness_mm)} mm slice thickness"
            )
    if value < limit:
        out.append(
            Finding(
                FindingCode.TARGET_NOT_MEASURABLE,
                Severity.BLOCKING,
                label,
                f"{label}: its {what} is {_fmt(value)} mm, below the {cname} minimum for a "
                f"target ({reason}). Make it a non-target lesion"
                + (" or measure it on thinner slices." if slice_thickness_mm else "."),
            )
        )
    return out


def _check_viable_within_lesion(read: TimepointRead, criteria: ResponseCriteria) -> list[Finding]:
    """A viable diameter longer than the whole lesion's long axis is impossible: refuse it."""
    out: list[Finding] = []
    tol = criteria.viable_over_long_axis_tolerance_mm
    for a in read.lesions:
        m = a.measurement
        if m is None or m.long_axis_mm is None or m.viable_long_axis_mm is None:
            continue
        if m.viable_long_axis_mm > m.long_axis_mm + tol:
            label = a.lesion.label
            out.append(
                Finding(
                    FindingCode.VIABLE_EXCEEDS_LONG_AXIS,
                    Severity.BLOCKING,
                    label,
                    f"{label}: viable diameter {_fmt(m.viable_long_axis_mm)} mm exceeds the "
                    f"lesion's long axis {_fmt(m.long_axis_mm)} mm: the viable part lies inside "
                    f"the lesion; redraw one of the lines (tolerance {_fmt(tol)} mm).",
                )
            )
    return out


def _check_baseline(
    read: TimepointRead, criteria: ResponseCriteria, slice_thickness_mm: float | None
) -> list[Finding]:
    out: list[Finding] = []
    cname = criteria.name
    targets = read.targets
    for a in targets:
        out.extend(_check_baseline_target(a, criteria, slice_thickness_mm))
    if len(targets) > criteria.max_targets:
        out.append(
            Finding(
                FindingCode.TOO_MANY_TARGETS,
                Severity.BLOCKING,
                None,
                f"{len(targets)} target lesions: {cname} allows at most {criteria.max_targets}. "
                "Make the extra ones non-target lesions.",
            )
        )
    per_organ: dict[str, list[str]] = {}
    for a in targets:
        per_organ.setdefault(_organ_of(a), []).append(a.lesion.label)
    for organ, labels in per_organ.items():
        limit = (
            criteria.max_intrahepatic_targets if organ == LIVER else criteria.max_targets_per_organ
        )
        if len(labels) <= limit:
            continue
        if organ == LIVER:
            code, what = FindingCode.TOO_MANY_INTRAHEPATIC_TARGETS, "intrahepatic targets"
        else:
            code = FindingCode.TOO_MANY_TARGETS_IN_ORGAN
            what = f"targets in {organ.replace('_', ' ')}"
            if organ == LYMPH_NODES:
                what += " (all lymph nodes count as one organ)"
        out.append(
            Finding(
                code,
                Severity.BLOCKING,
                None,
                f"{len(labels)} {what} ({', '.join(labels)}): {cname} allows at most {limit}. "
                "Keep the largest reproducible ones and make the others non-targets.",
            )
        )
    for a in read.non_targets:
        if a.non_target_status is not None and a.non_target_status is not NonTargetStatus.PRESENT:
            out.append(
                Finding(
                    FindingCode.NON_TARGET_NOT_PRESENT_AT_BASELINE,
                    Severity.BLOCKING,
                    a.lesion.label,
                    f"{a.lesion.label}: a baseline non-target is 'present' by definition, "
                    f"received '{a.non_target_status.value}'. Set it to present, or remove it.",
                )
            )
    if read.new_lesions or read.new_lesion_call is not NewLesionCall.NONE:
        new_labels = ", ".join(a.lesion.label for a in read.new_lesions) or "call only"
        out.append(
            Finding(
                FindingCode.NEW_LESION_AT_BASELINE,
                Severity.BLOCKING,
                None,
                f"New lesions at baseline ({new_labels}): every lesion seen at baseline is a "
                "target or a non-target. Record them as such and set the new-lesion call to "
                "'none'.",
            )
        )
    if not targets:
        tail = (
            "the subject is not evaluable by mRECIST (no typical enhancing target)"
            if criteria.require_enhancing_target
            else "only non-target disease can be assessed (RECIST 1.1 Table 2)"
        )
        out.append(
            Finding(
                FindingCode.NO_TARGET_LESIONS,
                Severity.WARNING,
                None,
                f"No target lesion at baseline: {tail}. Select a measurable target if there "
                "is one.",
            )
        )
    return out


def _check_follow_up(
    read: TimepointRead, baseline: TimepointRead, criteria: ResponseCriteria
) -> list[Finding]:
    out: list[Finding] = []
    cname = criteria.name
    base = [a for a in baseline.lesions if a.lesion.role is not LesionRole.NEW]
    base_by_id = {a.lesion.tracking_id: a for a in base}
    base_by_label = {a.lesion.label: a for a in base}
    now_by_id = {a.lesion.tracking_id: a for a in read.lesions}
    now_by_label = {a.lesion.label: a for a in read.lesions}
    reported: set[str] = set()  # tracking ids of the read already reported as changed
    for b in base:
        bl = b.lesion
        role = "target" if bl.role is LesionRole.TARGET else "non-target"
        now = now_by_id.get(bl.tracking_id)
        if now is None:
            other = now_by_label.get(bl.label)
            if other is not None:
                reported.add(other.lesion.tracking_id)
                out.append(
                    Finding(
                        FindingCode.LESION_ID_CHANGED,
                        Severity.BLOCKING,
                        bl.label,
                        f"{bl.label}: the baseline {role} has tracking id {bl.tracking_id!r} "
                        f"but this read's {bl.label} has {other.lesion.tracking_id!r}. A "
                        "lesion keeps its id from baseline: link it to the baseline lesion.",
                    )
                )
            else:
                out.append(
                    Finding(
                        FindingCode.BASELINE_LESION_NOT_ASSESSED,
                        Severity.BLOCKING,
                        bl.label,
                        f"{bl.label}: the baseline {role} is not assessed in this read. "
                        + (
                            "Measure it, or set it too small, absent or not evaluated."
                            if bl.role is LesionRole.TARGET
                            else "Set its status (present, absent, unequivocal progression "
                            "or not evaluated)."
                        ),
                    )
                )
            continue
        nl = now.lesion
        if nl.label != bl.label:
            reported.add(nl.tracking_id)
            out.append(
                Finding(
                    FindingCode.LESION_ID_CHANGED,
                    Severity.BLOCKING,
                    nl.label,
                    f"{nl.label}: this lesion was {bl.label} at baseline (tracking id "
                    f"{bl.tracking_id!r}). A lesion keeps its label from baseline: rename it "
                    f"{bl.label}.",
                )
            )
        if nl.role is not bl.role:
            reported.add(nl.tracking_id)
            out.append(
                Finding(
                    FindingCode.LESION_ROLE_CHANGED,
                    Severity.BLOCKING,
                    nl.label,
                    f"{nl.label}: it was a {role} at baseline and is a "
                    f"{nl.role.value.replace('_', '-')} here. Roles are fixed at baseline: "
                    f"assess it as a {role}.",
                )
            )
    for a in read.lesions:
        les = a.lesion
        if les.tracking_id in reported or les.tracking_id in base_by_id:
            continue
        if les.role is LesionRole.NEW:
            if les.label in base_by_label:
                out.append(
                    Finding(
                        FindingCode.LESION_ID_CHANGED,
                        Severity.BLOCKING,
                        les.label,
                        f"{les.label}: a new lesion cannot carry the label of a baseline lesion. "
                        "Give it a new label (NEW1, ...), or assess the baseline lesion.",
                    )
                )
            continue
        if les.label in base_by_label:
            continue  # reported above as an id change
        code = (
            FindingCode.NEW_TARGET_AT_FOLLOW_UP
            if les.role is LesionRole.TARGET
            else FindingCode.NEW_NON_TARGET_AT_FOLLOW_UP
        )
        role = "target" if les.role is LesionRole.TARGET else "non-target"
        out.append(
            Finding(
                code,
                Severity.BLOCKING,
                les.label,
                f"{les.label}: a {role} that was not in the baseline read. Targets and "
                "non-targets are chosen at baseline only; record a lesion that appears as a new "
                "lesion.",
            )
        )
    for a in read.targets:
        if a.lesion.tracking_id not in base_by_id:
            continue
        m = a.measurement
        if m is not None and m.state is MeasurementState.NOT_EVALUATED:
            out.append(
                Finding(
                    FindingCode.TARGET_NOT_EVALUATED,
                    Severity.WARNING,
                    a.lesion.label,
                    f"{a.lesion.label}: not evaluated. The target response will be NE unless the "
                    "other lesions show progression. Measure it if the images allow.",
                )
            )
        elif (
            m is not None
            and m.state is MeasurementState.MEASURED
            and _uses_viable(a, criteria)
            and m.viable_long_axis_mm is None
        ):
            out.append(
                Finding(
                    FindingCode.VIABLE_DIAMETER_MISSING,
                    Severity.BLOCKING,
                    a.lesion.label,
                    f"{a.lesion.label}: {cname} sums the viable (arterially enhancing) "
                    "diameter, which is missing. Draw it on the arterial phase, or set the "
                    "target absent if no enhancement is left.",
                )
            )
    if (
        criteria.new_lesion_requires_typical_hcc
        and read.new_lesion_call is NewLesionCall.UNEQUIVOCAL
    ):
        calls = []
        for a in read.new_lesions:
            m = a.measurement
            size = None
            if m is not None and m.state is MeasurementState.MEASURED:
                size = m.long_axis_mm if m.long_axis_mm is not None else m.viable_long_axis_mm
            calls.append(
                compute_new_lesion_call(
                    kind=a.lesion.kind,
                    intrahepatic=_is_intrahepatic(a),
                    diameter_mm=size,
                    typical_hcc=a.lesion.typical_hcc,
                    cytology_confirmed=a.cytology_confirmed,
                    criteria=criteria,
                )
            )
        if calls and NewLesionCall.UNEQUIVOCAL not in calls:
            labels = ", ".join(a.lesion.label for a in read.new_lesions)
            out.append(
                Finding(
                    FindingCode.NEW_LESION_EQUIVOCAL,
                    Severity.WARNING,
                    None,
                    f"New lesions {labels} are called unequivocal, but by {cname} none is: an "
                    f"intrahepatic new lesion needs >= {_fmt(criteria.new_lesion_min_mm)} mm "
                    "with the typical HCC pattern (or >= "
                    f"{_fmt(criteria.new_lesion_growth_mm)} mm interval growth), an effusion "
                    "cytological proof. Check size and pattern, or call it equivocal.",
                )
            )
    return out


def check_timepoint_read(
    read: TimepointRead,
    *,
    criteria: ResponseCriteria | str,
    baseline: TimepointRead | None = None,
    slice_thickness_mm: float | None = None,
) -> list[Finding]:
    """Check one timepoint read's lesion set against the criteria.

    Parameters
    ----------
    read : TimepointRead
        The read being worked on (draft or signed).
    criteria : ResponseCriteria or str
        RECIST 1.1 or mRECIST parameters (or their CLI name, ``"recist1.1"`` / ``"mrecist"``).
    baseline : TimepointRead, optional
        The same reader's baseline read of the subject. None (or the read itself) means ``read``
        is the baseline: measurability, lesion counts and baseline rules are checked. Otherwise
        ``read`` is a follow-up, checked against the baseline lesion set.
    slice_thickness_mm : float, optional
        Slice thickness of the series measured on (mm); when given, non-nodal targets must also
        be >= ``criteria.measurable_slice_thickness_factor`` x this.

    Returns
    -------
    list of Finding
        Lesions whose viable diameter exceeds their long axis by more than
        ``criteria.viable_over_long_axis_tolerance_mm`` first (baseline and follow-up), then
        baseline findings in lesion order, then set-level ones; empty when the read is
        fine. :func:`has_blocking_findings` tells whether signing is allowed.

    Raises
    ------
    CriteriaError
        ``baseline`` belongs to another subject, or ``slice_thickness_mm`` is not > 0.
    """
    crit = criteria_from_name(criteria) if isinstance(criteria, str) else criteria
    if not isinstance(crit, ResponseCriteria):
        raise CriteriaError(
            f"check_timepoint_read: criteria must be a ResponseCriteria or 'recist1.1'/'mrecist', "
            f"received {criteria!r}."
        )
    if slice_thickness_mm is not None and not (
        isinstance(slice_thickness_mm, int | float)
        and not isinstance(slice_thickness_mm, bool)
        and slice_thickness_mm > 0
    ):
        raise CriteriaError(
            f"check_timepoint_read: slice_thickness_mm must be a number > 0 (mm) or None, "
            f"received {slice_thickness_mm!r}; read it from the series header (0018,0050)."
        )
    lines = _check_viable_within_lesion(read, crit)
    if baseline is None or baseline.timepoint.label == read.timepoint.label:
        return lines + _check_baseline(read, crit, slice_thickness_mm)
    if baseline.subject.code != read.subject.code:
        raise CriteriaError(
            f"check_timepoint_read: the baseline read is of subject {baseline.subject.code}, the "
            f"read of subject {read.subject.code}; pass the same subject's baseline."
        )
    return lines + _check_follow_up(read, baseline, crit)
