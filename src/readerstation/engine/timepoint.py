"""Timepoint level: sums, changes from baseline and nadir, target / non-target / overall response.

:func:`derive_timepoints` walks one subject's assessments in date order and applies the pure rules
of :mod:`readerstation.criteria.rules`. The baseline lesion set is checked against the criteria
(measurability, at most 5 targets, 2 per organ, 2 intrahepatic) and every follow-up must refer to
baseline lesions only; violations raise :class:`CriteriaError` naming subject, assessment, field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from readerstation.criteria.enums import (
    DiameterCall,
    LesionKind,
    NewLesionCall,
    NonTargetStatus,
    Response,
)
from readerstation.criteria.organs import (
    LIVER,
    PORTA_HEPATIS,
    is_intrahepatic,
    normalise_organ,
    organ_group,
)
from readerstation.criteria.params import ResponseCriteria
from readerstation.criteria.rules import (
    combine_new_lesion_calls,
    compute_new_lesion_call,
    compute_non_target_response,
    compute_overall_response,
    compute_percent_change,
    compute_target_response,
)
from readerstation.engine.model import Assessment, SubjectTimeline
from readerstation.errors import CriteriaError

__all__ = ["TimepointResult", "derive_timepoints"]

_NOT_EVALUATED = NonTargetStatus.NOT_EVALUATED
_LESION = LesionKind.LESION


@dataclass(frozen=True, slots=True)
class TimepointResult:
    """What the criteria say about one assessment.

    Attributes
    ----------
    date : datetime.date
        Assessment date.
    sum_mm : float or None
        Sum of the target values (mm); None when a target was not evaluated or the assessment
        carries only a response.
    change_from_baseline_pct, change_from_nadir_pct : float or None
        Percent change of ``sum_mm`` from the baseline sum and from the nadir (smallest sum among
        baseline and earlier evaluable assessments; None when that nadir is 0 or unknown, and
        both None at baseline).
    target_response, non_target_response : Response or None
        None at baseline, for a subject without such lesions, or for a response-only assessment.
    new_lesions : NewLesionCall or None
        The assessment's new-lesion call (None at baseline and for response-only assessments).
    overall_response : Response or None
        None at baseline only.
    is_baseline : bool
        The first assessment.
    """

    date: dt.date
    sum_mm: float | None
    change_from_baseline_pct: float | None
    change_from_nadir_pct: float | None
    target_response: Response | None
    non_target_response: Response | None
    new_lesions: NewLesionCall | None
    overall_response: Response | None
    is_baseline: bool = False

    def __repr__(self) -> str:
        s = "-" if self.sum_mm is None else f"{self.sum_mm:g} mm"
        label = "baseline" if self.is_baseline else str(self.overall_response)
        return f"TimepointResult({self.date}, sum={s}, {label})"

    def with_overall(self, response: Response) -> TimepointResult:
        """A copy with another overall response (RECIST FAQ: confirmed PR holds)."""
        return TimepointResult(
            self.date,
            self.sum_mm,
            self.change_from_baseline_pct,
            self.change_from_nadir_pct,
            self.target_response,
            self.non_target_response,
            self.new_lesions,
            response,
            self.is_baseline,
        )

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON object (percentages rounded to 2 decimals, mm to 2 decimals)."""
        return {
            "date": self.date.isoformat(),
            "sum_mm": _r(self.sum_mm),
            "change_from_baseline_pct": _r(self.change_from_baseline_pct),
            "change_from_nadir_pct": _r(self.change_from_nadir_pct),
            "target_response": _s(self.target_response),
            "non_target_response": _s(self.non_target_response),
            "new_lesions": _s(self.new_lesions),
            "overall_response": _s(self.overall_response),
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def _s(x: Any) -> str | None:
    return None if x is None else str(x.value)


def _fail(
    subject: str, k: int, date: dt.date, field: str, expected: str, got: object
) -> CriteriaError:
    return CriteriaError(
        f"subject {subject}, assessment {k} ({date}), field {field}: expected {expected}, "
        f"received {got!r}; fix this field in the timeline."
    )


def _check_baseline(
    subject: SubjectTimeline, criteria: ResponseCriteria
) -> tuple[list[str], list[bool], list[str], bool]:
    """Validate the baseline; return target ids, nodal flags, non-target ids, evaluable flag."""
    base = subject.baseline
    sid, date = subject.subject, base.date
    if not base.targets and not base.non_targets:
        raise _fail(sid, 1, date, "targets", "at least one target or non-target lesion", [])
    if base.new_lesions not in (NewLesionCall.NONE, ()):
        raise _fail(sid, 1, date, "new_lesions", "'none' at baseline", base.new_lesions)
    ids: list[str] = []
    nodal: list[bool] = []
    per_organ: dict[str, int] = {}
    enhancing = 0
    for i, t in enumerate(base.targets):
        field = f"targets[{i}]"
        if t.lesion in ids:
            raise _fail(sid, 1, date, f"{field}.lesion", "a unique target id at baseline", t.lesion)
        if t.merged_into is not None:
            raise _fail(sid, 1, date, f"{field}.merged_into", "null at baseline", t.merged_into)
        d = t.diameter_mm
        absent_viable = criteria.require_enhancing_target and d is DiameterCall.ABSENT
        if absent_viable:
            pass
        elif not isinstance(d, float):
            raise _fail(sid, 1, date, f"{field}.diameter_mm", "a measured diameter (mm)", d)
        else:
            if t.nodal:
                limit = (
                    criteria.porta_hepatis_node_min_mm
                    if normalise_organ(t.organ) == PORTA_HEPATIS
                    else criteria.min_measurable_node_mm
                )
                what = "short axis"
            else:
                limit, what = criteria.min_measurable_mm, "diameter"
            if d < limit:
                raise _fail(
                    sid,
                    1,
                    date,
                    f"{field}.diameter_mm",
                    f"a measurable target ({what} >= {limit:g} mm by {criteria.name}); record "
                    "smaller lesions as non-targets",
                    d,
                )
            if d > 0:
                enhancing += 1
        ids.append(t.lesion)
        nodal.append(t.nodal)
        # all lymph nodes, whatever their region, are one organ (RECIST 1.1 Q&A "Two target
        # lesions": "Nodes are considered to be one organ"): the checks' own rule
        key = organ_group(t.organ, t.nodal) if t.organ.strip() else ""
        if key:
            per_organ[key] = per_organ.get(key, 0) + 1
    if len(ids) > criteria.max_targets:
        raise _fail(sid, 1, date, "targets", f"at most {criteria.max_targets} targets", len(ids))
    for organ, n in per_organ.items():
        if organ == LIVER:
            continue  # the liver's own limit below
        if n > criteria.max_targets_per_organ:
            raise _fail(
                sid,
                1,
                date,
                "targets",
                f"at most {criteria.max_targets_per_organ} targets per organ ({organ})",
                n,
            )
    if per_organ.get(LIVER, 0) > criteria.max_intrahepatic_targets:
        raise _fail(
            sid,
            1,
            date,
            "targets",
            f"at most {criteria.max_intrahepatic_targets} intrahepatic targets",
            per_organ[LIVER],
        )
    evaluable = True
    if criteria.require_enhancing_target:
        if enhancing == 0:
            evaluable = False  # mRECIST: no typical enhancing target -> NE
        elif enhancing < len(ids):
            raise _fail(
                sid,
                1,
                date,
                "targets",
                "every mRECIST target enhancing in the arterial phase (a non-enhancing lesion is "
                "a non-target)",
                "a target with diameter_mm 'absent'",
            )
    nt_ids: list[str] = []
    for i, nt in enumerate(base.non_targets):
        if nt.lesion in nt_ids or nt.lesion in ids:
            raise _fail(sid, 1, date, f"non_targets[{i}].lesion", "a unique lesion id", nt.lesion)
        if nt.status is not NonTargetStatus.PRESENT:
            raise _fail(
                sid, 1, date, f"non_targets[{i}].status", "'present' at baseline", nt.status.value
            )
        nt_ids.append(nt.lesion)
    return ids, nodal, nt_ids, evaluable


def _lesion_values(
    a: Assessment,
    k: int,
    subject: str,
    ids: list[str],
    criteria: ResponseCriteria,
    index: dict[str, int],
) -> list[float | None]:
    """Per baseline target: counted mm (fragments added, merged = 0), or None if not evaluated."""
    targets = a.targets
    if len(targets) == len(ids):
        # fast path: one plain measurement per baseline target, in baseline order
        fast: list[float | None] = []
        for t, lid in zip(targets, ids, strict=True):
            d = t.diameter_mm
            if t.lesion != lid or t.merged_into is not None:
                break
            if type(d) is float:
                fast.append(d)
            elif d is None:
                fast.append(None)
            elif d is DiameterCall.TOO_SMALL:
                fast.append(criteria.too_small_mm)
            else:
                fast.append(0.0)
        else:
            return fast
    values: list[float | None] = [None] * len(ids)
    seen = [False] * len(ids)
    missing = [False] * len(ids)
    for j, t in enumerate(a.targets):
        i = index.get(t.lesion)
        if i is None:
            raise _fail(
                subject,
                k,
                a.date,
                f"targets[{j}].lesion",
                "a baseline target id (" + ", ".join(ids) + "); new lesions go in new_lesions",
                t.lesion,
            )
        if t.merged_into is not None:
            if t.merged_into not in index or t.merged_into == t.lesion:
                raise _fail(
                    subject,
                    k,
                    a.date,
                    f"targets[{j}].merged_into",
                    "another baseline target id",
                    t.merged_into,
                )
            v: float | None = 0.0
        else:
            d = t.diameter_mm
            if type(d) is float:
                v = d
            elif d is None:
                v = None
            elif d is DiameterCall.TOO_SMALL:
                v = criteria.too_small_mm
            elif d is DiameterCall.ABSENT:
                v = 0.0
            else:
                v = float(d)
        seen[i] = True
        if v is None:
            missing[i] = True
        else:
            prev = values[i]
            values[i] = v if prev is None else prev + v
    return [None if (missing[i] or not seen[i]) else values[i] for i in range(len(ids))]


def derive_timepoints(
    subject: SubjectTimeline, criteria: ResponseCriteria
) -> tuple[list[TimepointResult], bool]:
    """Timepoint results of one subject (baseline first).

    Parameters
    ----------
    subject : SubjectTimeline
        The subject's assessments.
    criteria : ResponseCriteria
        RECIST 1.1 or mRECIST parameters.

    Returns
    -------
    timepoints : list of TimepointResult
        One per assessment, in date order.
    evaluable : bool
        False when mRECIST finds no typical enhancing target at baseline (every follow-up is NE).

    Raises
    ------
    CriteriaError
        Invalid lesion set or reference to a lesion that is not a baseline lesion.
    """
    sid = subject.subject
    base = subject.baseline
    if subject.response_only:
        out = [TimepointResult(base.date, None, None, None, None, None, None, None, True)]
        for k, a in enumerate(subject.assessments[1:], start=2):
            if not a.response_only:
                raise _fail(
                    sid,
                    k,
                    a.date,
                    "targets",
                    "only overall_response (the baseline has no lesion data)",
                    "lesion data",
                )
            out.append(
                TimepointResult(
                    a.date, None, None, None, None, None, None, a.overall_response or Response.NE
                )
            )
        return out, True

    ids, nodal, nt_ids, evaluable = _check_baseline(subject, criteria)
    nt_index = {lid: i for i, lid in enumerate(nt_ids)}
    base_kinds = [n.kind for n in base.non_targets]
    nt_plain = all(kind is _LESION for kind in base_kinds)
    t_index = {lid: i for i, lid in enumerate(ids)}
    base_values = _lesion_values(base, 1, sid, ids, criteria, t_index)
    baseline_sum = float(sum(v for v in base_values if v is not None)) if ids else None
    out = [
        TimepointResult(
            base.date,
            baseline_sum,
            None,
            None,
            None,
            None,
            None,
            None,
            True,
        )
    ]
    nadir = baseline_sum
    after_cr = False
    first_seen_new: dict[str, float] = {}
    for k, a in enumerate(subject.assessments[1:], start=2):
        if a.response_only:
            out.append(
                TimepointResult(
                    a.date, None, None, None, None, None, None, a.overall_response or Response.NE
                )
            )
            if a.overall_response is Response.CR:
                after_cr = True
            continue
        # targets
        sum_mm: float | None = None
        target: Response | None = None
        if baseline_sum is not None and nadir is not None:
            values = _lesion_values(a, k, sid, ids, criteria, t_index)
            if None not in values:
                sum_mm = float(sum(values))  # type: ignore[arg-type]
            target = compute_target_response(
                values,
                nodal,
                baseline_sum_mm=baseline_sum,
                nadir_sum_mm=nadir,
                criteria=criteria,
                after_cr=after_cr,
            )
        elif a.targets:
            raise _fail(sid, k, a.date, "targets", "none (the baseline has no targets)", "targets")
        # non-targets
        nts = a.non_targets
        if (
            nt_plain
            and len(nts) == len(nt_ids)
            and all(
                n.lesion == lid and n.kind is _LESION for n, lid in zip(nts, nt_ids, strict=True)
            )
        ):
            # fast path: every baseline non-target, in order, plain lesions
            nt_resp = compute_non_target_response(
                [n.status for n in nts], criteria=criteria, after_cr=after_cr
            )
        else:
            statuses: list[NonTargetStatus | None] = [None] * len(nt_ids)
            kinds = list(base_kinds)
            cyto = [False] * len(nt_ids)
            for j, n in enumerate(nts):
                i = nt_index.get(n.lesion)
                if i is None:
                    raise _fail(
                        sid,
                        k,
                        a.date,
                        f"non_targets[{j}].lesion",
                        "a baseline non-target id (" + ", ".join(nt_ids) + ")"
                        if nt_ids
                        else "no non-targets (the baseline has none; new lesions go in "
                        "new_lesions)",
                        n.lesion,
                    )
                statuses[i] = n.status
                kinds[i] = n.kind
                cyto[i] = n.cytology_confirmed
            nt_resp = compute_non_target_response(
                [_NOT_EVALUATED if st is None else st for st in statuses],
                kinds=kinds,
                cytology_confirmed=cyto,
                criteria=criteria,
                after_cr=after_cr,
            )
        # new lesions
        if isinstance(a.new_lesions, tuple):
            calls: list[NewLesionCall] = []
            for nl in a.new_lesions:
                first = first_seen_new.get(nl.lesion)
                calls.append(
                    compute_new_lesion_call(
                        kind=nl.kind,
                        intrahepatic=is_intrahepatic(nl.organ, nodal=False),
                        diameter_mm=nl.diameter_mm,
                        typical_hcc=nl.typical_hcc,
                        first_seen_diameter_mm=first,
                        cytology_confirmed=nl.cytology_confirmed,
                        equivocal=nl.equivocal,
                        criteria=criteria,
                    )
                )
                if first is None and nl.diameter_mm is not None:
                    first_seen_new[nl.lesion] = nl.diameter_mm
            new_call = combine_new_lesion_calls(calls)
        else:
            new_call = a.new_lesions
        if not evaluable:
            target = Response.NE
            overall = Response.NE
        else:
            overall = compute_overall_response(target, nt_resp, new_call)
        change_base = change_nadir = None
        if sum_mm is not None and baseline_sum is not None and nadir is not None:
            # None from a zero reference
            change_base = compute_percent_change(sum_mm, baseline_sum)
            change_nadir = compute_percent_change(sum_mm, nadir)
        out.append(
            TimepointResult(
                a.date, sum_mm, change_base, change_nadir, target, nt_resp, new_call, overall
            )
        )
        if sum_mm is not None and nadir is not None and target is not Response.NE:
            nadir = min(nadir, sum_mm)
        if overall is Response.CR:
            after_cr = True
    return out, evaluable
