"""Compare two readers' reads of one subject on the charter's adjudication variables.

Both reads go through the response engine (:func:`~readerstation.model.to_subject_timeline`,
:func:`~readerstation.engine.derive_subject_response`); the charter variables that differ decide
whether the subject needs adjudication. The *causes* explain the difference at the measurement
level and are informative only (they never send a subject to adjudication by themselves):

``target_selection``
    At baseline the two readers chose different target lesions: a different number of targets,
    different organs, or lesions of clearly different size in the same organ. Labels (``T1``...)
    are each reader's own, so targets are matched by organ (lymph nodes as one organ) and, within
    an organ, by position (nearest long-axis midpoints) when both readers' lines are known, else
    by size order; two matched lesions are "different" when their criteria diameters
    differ by more than :data:`SAME_LESION_TOLERANCE_MM` and more than
    :data:`SAME_LESION_TOLERANCE_FRACTION` of the larger one, or, when both lesions carry their
    long-axis lines, when the lines' midpoints are further apart than the larger diameter.
``sum_difference``
    At a follow-up the readers' target responses differ (e.g. PR vs SD, SD vs PD) although they
    chose the same targets; the detail gives both sums, both changes from baseline and their
    difference in percentage points. Not reported when the target selection already differs.
``new_lesion_call``
    At a follow-up the criteria's new-lesion calls differ (none / equivocal / unequivocal, after
    mRECIST's typical-HCC and size rules).
``non_target_call``
    At a follow-up the non-target responses differ, when both readers have non-targets or one of
    them calls unequivocal progression.

Examples
--------
See ``tests/test_reading_discrepancy.py`` for reads built by hand for each cause.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from readerstation.criteria.enums import NewLesionCall, Response
from readerstation.criteria.organs import organ_group
from readerstation.criteria.params import ResponseCriteria
from readerstation.engine.subject import SubjectResult, derive_subject_response
from readerstation.engine.timepoint import TimepointResult
from readerstation.errors import ModelError
from readerstation.model.entities import TimepointRead, resolve_criteria
from readerstation.model.timeline import to_subject_timeline
from readerstation.reading.charter import AdjudicationVariable, Charter, DiscrepancyCause

__all__ = [
    "SAME_LESION_TOLERANCE_FRACTION",
    "SAME_LESION_TOLERANCE_MM",
    "Cause",
    "Comparison",
    "compare_reads",
    "criteria_key",
]

SAME_LESION_TOLERANCE_MM = 5.0
"""Two readers' diameters of one lesion may differ by this much (mm) and still be one lesion."""
SAME_LESION_TOLERANCE_FRACTION = 0.25
"""... or by this fraction of the larger diameter (inter-reader variability of RECIST diameters
is of the order of 10-20 %, McErlean et al., Radiology 2013)."""


def criteria_key(criteria: ResponseCriteria) -> str:
    """The short name of ``criteria`` (``"recist1.1"`` or ``"mrecist"``)."""
    return "mrecist" if criteria.target_uses_viable_diameter else "recist1.1"


@dataclass(frozen=True, slots=True)
class Cause:
    """One measurement-level reason why two reads differ.

    Attributes
    ----------
    kind : DiscrepancyCause
        ``target_selection``, ``sum_difference``, ``new_lesion_call`` or ``non_target_call``.
    timepoint : str or None
        Timepoint label (``"TP2"``) the cause was seen at; the baseline's for target selection.
    detail : str
        Human text. The two reads appear as ``{1}`` and ``{2}``; :meth:`text` fills in the
        labels (``"read 1"`` or ``"Read A"``), so a blinded packet never names slot or reader.
    """

    kind: DiscrepancyCause
    timepoint: str | None
    detail: str

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", DiscrepancyCause(self.kind))
        except ValueError:
            raise ModelError(
                f"Cause.kind: expected one of {', '.join(c.value for c in DiscrepancyCause)}, "
                f"received {self.kind!r}."
            ) from None

    def text(self, labels: tuple[str, str] = ("1", "2")) -> str:
        """The detail with ``{1}``/``{2}`` replaced by ``read <label>``."""
        return self.detail.replace("{1}", f"read {labels[0]}").replace("{2}", f"read {labels[1]}")

    def to_dict(self, labels: tuple[str, str] = ("1", "2")) -> dict[str, Any]:
        """``{"kind", "timepoint", "detail"}`` with the detail rendered for ``labels``."""
        return {"kind": self.kind.value, "timepoint": self.timepoint, "detail": self.text(labels)}


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two reads of one subject compared under one criteria.

    Attributes
    ----------
    subject : str
        Subject code.
    criteria : str
        ``"recist1.1"`` or ``"mrecist"``.
    result_1, result_2 : SubjectResult
        The engine's results of the slot-1 and slot-2 reads.
    variables : tuple of AdjudicationVariable
        The charter variables that differ, in the charter's order.
    causes : tuple of Cause
        Measurement-level reasons (informative; may be non-empty when ``variables`` is empty).
    labels : tuple of str
        Timepoint labels in date order (baseline first), as both reads name them.
    """

    subject: str
    criteria: str
    result_1: SubjectResult
    result_2: SubjectResult
    variables: tuple[AdjudicationVariable, ...]
    causes: tuple[Cause, ...]
    labels: tuple[str, ...] = ()

    @property
    def needs_adjudication(self) -> bool:
        """True when a charter variable differs."""
        return bool(self.variables)

    @property
    def cause_kinds(self) -> frozenset[DiscrepancyCause]:
        """The kinds of :attr:`causes`."""
        return frozenset(c.kind for c in self.causes)

    def __repr__(self) -> str:
        what = ", ".join(v.value for v in self.variables) or "agree"
        why = ", ".join(sorted(k.value for k in self.cause_kinds)) or "-"
        return (
            f"Comparison({self.subject}, {self.criteria}: {what}; causes {why}; BOR "
            f"{self.result_1.best_overall_response} vs {self.result_2.best_overall_response})"
        )

    def to_dict(self, labels: tuple[str, str] = ("1", "2")) -> dict[str, Any]:
        """A JSON-ready dict; ``labels`` name the reads (``("A", "B")`` for a blinded packet).

        ``results`` maps each label to the engine's JSON of that read's result, with
        ``timepoint`` labels added to each timepoint.
        """
        results = {}
        for label, res in ((labels[0], self.result_1), (labels[1], self.result_2)):
            d = res.to_json()
            if len(self.labels) == len(d["timepoints"]):
                for tp, name in zip(d["timepoints"], self.labels, strict=True):
                    tp["timepoint"] = name
            results[label] = d
        return {
            "subject": self.subject,
            "criteria": self.criteria,
            "needs_adjudication": self.needs_adjudication,
            "variables": [v.value for v in self.variables],
            "causes": [c.to_dict(labels) for c in self.causes],
            "results": results,
        }


# ---------------------------------------------------------------------------------------------


def _latest(reads: Sequence[TimepointRead], who: str) -> dict[str, TimepointRead]:
    out: dict[str, TimepointRead] = {}
    for r in reads:
        if not isinstance(r, TimepointRead):
            raise ModelError(f"compare_reads: {who} holds {r!r}; expected TimepointRead items.")
        old = out.get(r.timepoint.label)
        if old is None or r.version > old.version:
            out[r.timepoint.label] = r
    if not out:
        raise ModelError(
            f"compare_reads: {who} holds no reads; give the signed reads of a subject."
        )
    return out


def _ordered_labels(latest: dict[str, TimepointRead]) -> list[str]:
    return [
        r.timepoint.label
        for r in sorted(latest.values(), key=lambda r: r.timepoint.scan_date or dt.date.min)
    ]


def _result(
    latest: dict[str, TimepointRead], criteria: ResponseCriteria, start: dt.date | None
) -> SubjectResult:
    timeline = to_subject_timeline(latest.values(), criteria)
    if start is not None:
        try:
            timeline = dataclasses.replace(timeline, treatment_start=start)
        except ValueError as exc:
            raise ModelError(f"compare_reads: treatment_start: {exc}") from exc
    try:
        return derive_subject_response(timeline, criteria)
    except ValueError as exc:
        raise ModelError(f"compare_reads: {timeline.subject}: {exc}") from exc


def _fmt_mm(x: float | None) -> str:
    return "not evaluable" if x is None else f"{x:.1f} mm"


def _fmt_pct(x: float | None) -> str:
    return "-" if x is None else f"{x:+.1f} %"


def _word(r: Response | NewLesionCall | None) -> str:
    return "none recorded" if r is None else r.value


def _target_sizes(
    read: TimepointRead, criteria: ResponseCriteria
) -> dict[str, list[tuple[float, tuple[float, float, float] | None]]]:
    """Per organ group: (criteria diameter, long-axis midpoint or None), largest first."""
    out: dict[str, list[tuple[float, tuple[float, float, float] | None]]] = {}
    for a in read.targets:
        d = a.diameter_mm(criteria)
        m = a.measurement
        mid = None
        if m is not None and m.long_axis_line is not None:
            s, e = m.long_axis_line.start, m.long_axis_line.end
            mid = ((s[0] + e[0]) / 2, (s[1] + e[1]) / 2, (s[2] + e[2]) / 2)
        out.setdefault(organ_group(a.lesion.organ, a.lesion.nodal), []).append(
            (-1.0 if d is None else d, mid)
        )
    for v in out.values():
        v.sort(key=lambda x: -x[0])
    return out


def _describe_targets(read: TimepointRead, criteria: ResponseCriteria) -> str:
    parts = []
    for a in read.targets:
        d = a.diameter_mm(criteria)
        parts.append(f"{a.lesion.organ} {'?' if d is None else f'{d:.0f}'}")
    return ", ".join(parts) if parts else "none"


def _same_lesion(
    a: tuple[float, tuple[float, float, float] | None],
    b: tuple[float, tuple[float, float, float] | None],
) -> bool:
    (d1, m1), (d2, m2) = a, b
    if m1 is not None and m2 is not None:
        # both lines known (same frame of reference: both read the same series)
        return math.dist(m1, m2) <= max(d1, d2, SAME_LESION_TOLERANCE_MM)
    diff = abs(d1 - d2)
    return diff <= SAME_LESION_TOLERANCE_MM or diff <= SAME_LESION_TOLERANCE_FRACTION * max(d1, d2)


def _pairs(
    a: list[tuple[float, tuple[float, float, float] | None]],
    b: list[tuple[float, tuple[float, float, float] | None]],
) -> list[tuple[Any, Any]]:
    """Match one organ's targets: by position when every line is known, else by size order."""
    if any(m is None for _, m in a) or any(m is None for _, m in b):
        return list(zip(a, b, strict=True))
    candidates = sorted(
        (math.dist(x[1], y[1]), i, j)  # type: ignore[arg-type]
        for i, x in enumerate(a)
        for j, y in enumerate(b)
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for _, i, j in candidates:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((a[i], b[j]))
    return pairs


def _target_selection(
    base_1: TimepointRead, base_2: TimepointRead, criteria: ResponseCriteria
) -> Cause | None:
    s1, s2 = _target_sizes(base_1, criteria), _target_sizes(base_2, criteria)
    differ = sorted(s1) != sorted(s2) or any(len(s1[k]) != len(s2[k]) for k in s1)
    if not differ:
        differ = any(not _same_lesion(x, y) for k in s1 for x, y in _pairs(s1[k], s2[k]))
    if not differ:
        return None
    n1, n2 = len(base_1.targets), len(base_2.targets)
    return Cause(
        DiscrepancyCause.TARGET_SELECTION,
        base_1.timepoint.label,
        f"baseline targets differ: {{1}} {n1} ({_describe_targets(base_1, criteria)} mm), "
        f"{{2}} {n2} ({_describe_targets(base_2, criteria)} mm)",
    )


def _timepoint_causes(
    label: str, t1: TimepointResult, t2: TimepointResult, selection_differs: bool
) -> list[Cause]:
    causes: list[Cause] = []
    if (
        not selection_differs
        and t1.target_response is not None
        and t2.target_response is not None
        and t1.target_response != t2.target_response
    ):
        c1, c2 = t1.change_from_baseline_pct, t2.change_from_baseline_pct
        gap = "" if c1 is None or c2 is None else f"; changes differ by {abs(c1 - c2):.1f} points"
        causes.append(
            Cause(
                DiscrepancyCause.SUM_DIFFERENCE,
                label,
                f"{label}: target sum {{1}} {_fmt_mm(t1.sum_mm)} ({_fmt_pct(c1)} from baseline, "
                f"{t1.target_response.value}), {{2}} {_fmt_mm(t2.sum_mm)} ({_fmt_pct(c2)}, "
                f"{t2.target_response.value}){gap}",
            )
        )
    if t1.new_lesions != t2.new_lesions:
        causes.append(
            Cause(
                DiscrepancyCause.NEW_LESION_CALL,
                label,
                f"{label}: new lesions {{1}} {_word(t1.new_lesions)}, "
                f"{{2}} {_word(t2.new_lesions)}",
            )
        )
    n1, n2 = t1.non_target_response, t2.non_target_response
    if n1 != n2 and ((n1 is not None and n2 is not None) or Response.PD in (n1, n2)):
        causes.append(
            Cause(
                DiscrepancyCause.NON_TARGET_CALL,
                label,
                f"{label}: non-target response {{1}} {_word(n1)}, {{2}} {_word(n2)}",
            )
        )
    return causes


def compare_reads(
    reads_1: Sequence[TimepointRead],
    reads_2: Sequence[TimepointRead],
    criteria: ResponseCriteria | str,
    charter: Charter | None = None,
    *,
    treatment_start: dt.date | None = None,
) -> Comparison:
    """Compare the slot-1 and slot-2 readers' signed reads of one subject.

    Parameters
    ----------
    reads_1, reads_2 : sequence of TimepointRead
        Each reader's signed reads of the same subject (with scan dates; the highest version of a
        timepoint counts). Both must name the same timepoint labels.
    criteria : ResponseCriteria or str
        The criteria, or ``"recist1.1"`` / ``"mrecist"``.
    charter : Charter, optional
        Which variables are compared (default :class:`Charter()`: BOR, date of progression,
        date of response).
    treatment_start : datetime.date, optional
        Overrides the reads' treatment start (both readers; default: the reads' own, else the
        baseline scan date).

    Returns
    -------
    Comparison

    Raises
    ------
    ModelError
        No reads, reads of different subjects, timepoint labels that are not the same for both
        readers (the message names them), drafts, missing dates, or lesion sets the engine
        refuses.
    """
    crit = resolve_criteria(criteria)
    charter = Charter() if charter is None else charter
    if not isinstance(charter, Charter):
        raise ModelError(f"compare_reads: charter: expected a Charter, received {charter!r}.")
    latest_1 = _latest(reads_1, "reads_1")
    latest_2 = _latest(reads_2, "reads_2")
    subjects = {r.subject.code for r in (*latest_1.values(), *latest_2.values())}
    if len(subjects) != 1:
        raise ModelError(
            f"compare_reads: expected the reads of one subject, received {sorted(subjects)}."
        )
    subject = subjects.pop()
    only_1 = sorted(set(latest_1) - set(latest_2))
    only_2 = sorted(set(latest_2) - set(latest_1))
    if only_1 or only_2:
        raise ModelError(
            f"compare_reads: {subject}: both readers must read the same timepoints; only reader 1 "
            f"read {', '.join(only_1) or 'none'}, only reader 2 read {', '.join(only_2) or 'none'}. "
            "Compare once both have signed every timepoint."
        )
    labels_1, labels_2 = _ordered_labels(latest_1), _ordered_labels(latest_2)
    if labels_1 != labels_2:
        raise ModelError(
            f"compare_reads: {subject}: the readers' scan dates order the timepoints differently "
            f"({', '.join(labels_1)} vs {', '.join(labels_2)}); fix the scan dates."
        )
    res_1 = _result(latest_1, crit, treatment_start)
    res_2 = _result(latest_2, crit, treatment_start)

    differ: dict[AdjudicationVariable, bool] = {
        AdjudicationVariable.BEST_OVERALL_RESPONSE: (
            res_1.best_overall_response != res_2.best_overall_response
        ),
        AdjudicationVariable.PROGRESSION_DATE: res_1.progression_date != res_2.progression_date,
        AdjudicationVariable.RESPONSE_DATE: res_1.first_response_date != res_2.first_response_date,
        AdjudicationVariable.TIMEPOINT_RESPONSE: [t.overall_response for t in res_1.timepoints]
        != [t.overall_response for t in res_2.timepoints],
    }
    variables = tuple(v for v in charter.variables if differ[v])

    causes: list[Cause] = []
    selection = _target_selection(latest_1[labels_1[0]], latest_2[labels_1[0]], crit)
    if selection is not None:
        causes.append(selection)
    for label, t1, t2 in zip(labels_1[1:], res_1.timepoints[1:], res_2.timepoints[1:], strict=True):
        causes.extend(_timepoint_causes(label, t1, t2, selection is not None))
    return Comparison(
        subject=subject,
        criteria=criteria_key(crit),
        result_1=res_1,
        result_2=res_2,
        variables=variables,
        causes=tuple(causes),
        labels=tuple(labels_1),
    )
