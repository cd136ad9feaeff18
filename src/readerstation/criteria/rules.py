"""Pure rules of RECIST 1.1 and mRECIST at one timepoint.

Each function takes plain values and a criteria object and returns a category; none reads files,
keeps state or prints. Percentages compare with a relative tolerance of 1e-9 so that a decrease of
exactly 30 % (35 mm from 50 mm) is a PR despite floating point.
"""

from __future__ import annotations

from collections.abc import Sequence

from readerstation.criteria.enums import (
    LesionKind,
    NewLesionCall,
    NonTargetStatus,
    Response,
)
from readerstation.criteria.params import ResponseCriteria

__all__ = [
    "check_pd_increase",
    "check_pr_decrease",
    "combine_new_lesion_calls",
    "compute_new_lesion_call",
    "compute_non_target_response",
    "compute_overall_response",
    "compute_percent_change",
    "compute_target_response",
]

_EPS = 1e-9


def compute_percent_change(value_mm: float, reference_mm: float) -> float | None:
    """Percent change of ``value_mm`` from ``reference_mm``; None when the reference is 0.

    A change from a zero sum is undefined (admiralonco sets it to NA); it is never reported as
    infinity.

    >>> compute_percent_change(35.0, 50.0)
    -30.0
    >>> compute_percent_change(5.0, 0.0) is None
    True
    """
    if reference_mm <= 0:
        return None
    return (value_mm - reference_mm) / reference_mm * 100.0


def check_pr_decrease(sum_mm: float, baseline_mm: float, criteria: ResponseCriteria) -> bool:
    """True when ``sum_mm`` is at least ``pr_decrease_pct`` below the baseline sum (mm)."""
    limit = baseline_mm * (1.0 - criteria.pr_decrease_pct / 100.0)
    return sum_mm <= limit + _EPS * max(1.0, baseline_mm)


def check_pd_increase(sum_mm: float, nadir_mm: float, criteria: ResponseCriteria) -> bool:
    """True when ``sum_mm`` exceeds the nadir by ``pd_increase_pct`` AND ``pd_absolute_min_mm``.

    The increase must be strictly positive (with mRECIST's 0 mm minimum and a 0 nadir, an
    unchanged 0 sum is not progression).
    """
    increase = sum_mm - nadir_mm
    tol = _EPS * max(1.0, nadir_mm)
    if increase <= tol:
        return False
    if increase + tol < criteria.pd_absolute_min_mm:
        return False
    return increase + tol >= nadir_mm * criteria.pd_increase_pct / 100.0


def compute_target_response(
    values_mm: Sequence[float | None],
    nodal: Sequence[bool],
    *,
    baseline_sum_mm: float,
    nadir_sum_mm: float,
    criteria: ResponseCriteria,
    after_cr: bool = False,
) -> Response:
    """Target response at one follow-up (RECIST 1.1 4.3.1; mRECIST on viable diameters).

    Parameters
    ----------
    values_mm : sequence of float or None
        Per baseline target, the value this assessment counts (mm): the diameter, the criteria's
        ``too_small_mm`` for "too small", 0 for absent, the sum of the fragments of a split lesion;
        None when the lesion was not evaluated.
    nodal : sequence of bool
        Per target, whether it is a lymph node (short axis).
    baseline_sum_mm, nadir_sum_mm : float
        Baseline sum, and the smallest sum among baseline and earlier evaluable assessments (mm).
    criteria : ResponseCriteria
        Thresholds.
    after_cr : bool
        An earlier assessment was an overall CR: any reappearing target is PD
        (``criteria.reappearance_after_cr_is_pd``).

    Returns
    -------
    Response
        CR, PR, SD, PD or NE. NE when a target was not evaluated, unless the evaluated ones
        already show PD (RECIST 1.1 appendix I: a missing lesion cannot undo progression).
    """
    total = 0.0
    missing = False
    reappeared = False  # an evaluated target that is not gone (non-nodal > 0, node >= 10 mm)
    node_limit = criteria.node_normal_short_axis_mm - _EPS
    for v, is_node in zip(values_mm, nodal, strict=True):
        if v is None:
            missing = True
            continue
        total += v
        if not reappeared and (v >= node_limit if is_node else v > _EPS):
            reappeared = True
    after_cr_pd = after_cr and reappeared and criteria.reappearance_after_cr_is_pd
    if missing:
        # a missing target cannot undo progression shown by the evaluated ones (appendix I),
        # nor a lesion that reappeared after a CR
        if after_cr_pd or check_pd_increase(total, nadir_sum_mm, criteria):
            return Response.PD
        return Response.NE
    all_gone = not reappeared
    if all_gone:
        return Response.CR
    if after_cr_pd:
        return Response.PD
    if check_pd_increase(total, nadir_sum_mm, criteria):
        return Response.PD
    if check_pr_decrease(total, baseline_sum_mm, criteria):
        return Response.PR
    return Response.SD


def compute_non_target_response(
    statuses: Sequence[NonTargetStatus],
    *,
    kinds: Sequence[LesionKind] | None = None,
    cytology_confirmed: Sequence[bool] | None = None,
    criteria: ResponseCriteria,
    after_cr: bool = False,
) -> Response | None:
    """Non-target response (RECIST 1.1 4.3.2, Tables 1-2; mRECIST "incomplete response/SD" is
    NON-CR/NON-PD).

    Returns None when the subject has no non-target lesions. Unequivocal progression of any
    non-target is PD even if others were not evaluated; otherwise any not evaluated is NE; all
    absent is CR; else NON-CR/NON-PD. An effusion's progression without cytological proof counts
    as present when ``criteria.effusion_requires_cytology`` (mRECIST). After an overall CR, a
    non-target present again is PD (``criteria.reappearance_after_cr_is_pd``).
    """
    if not statuses:
        return None
    effective: Sequence[NonTargetStatus] = statuses
    if (
        criteria.effusion_requires_cytology
        and kinds is not None
        and LesionKind.EFFUSION in kinds
        and NonTargetStatus.UNEQUIVOCAL_PROGRESSION in statuses
    ):
        cyto = cytology_confirmed if cytology_confirmed is not None else [False] * len(statuses)
        effective = [
            NonTargetStatus.PRESENT
            if (
                status is NonTargetStatus.UNEQUIVOCAL_PROGRESSION
                and kind is LesionKind.EFFUSION
                and not confirmed
            )
            else status
            for status, kind, confirmed in zip(statuses, kinds, cyto, strict=True)
        ]
    if NonTargetStatus.UNEQUIVOCAL_PROGRESSION in effective:
        return Response.PD
    if after_cr and criteria.reappearance_after_cr_is_pd and NonTargetStatus.PRESENT in effective:
        return Response.PD
    if NonTargetStatus.NOT_EVALUATED in effective:
        return Response.NE
    if all(s is NonTargetStatus.ABSENT for s in effective):
        return Response.CR
    return Response.NON_CR_NON_PD


def compute_new_lesion_call(
    *,
    kind: LesionKind = LesionKind.LESION,
    intrahepatic: bool = True,
    diameter_mm: float | None = None,
    typical_hcc: bool | None = None,
    first_seen_diameter_mm: float | None = None,
    cytology_confirmed: bool = False,
    equivocal: bool = False,
    criteria: ResponseCriteria,
) -> NewLesionCall:
    """Call one new lesion given as an object (RECIST 1.1 4.3.3; mRECIST new-lesion rules).

    * An effusion is unequivocal only with cytological proof when
      ``criteria.effusion_requires_cytology`` (mRECIST); otherwise equivocal.
    * A malignant portal vein thrombosis that appears is a new (non-measurable) lesion:
      unequivocal unless flagged ``equivocal``.
    * With ``criteria.new_lesion_requires_typical_hcc`` (mRECIST), an intrahepatic lesion is
      unequivocal when typical of HCC and >= ``new_lesion_min_mm`` (1 cm), or when it has grown by
      >= ``new_lesion_growth_mm`` (1 cm) since first seen; otherwise equivocal. Extrahepatic
      lesions follow RECIST 1.1.
    * RECIST 1.1: unequivocal unless flagged ``equivocal`` (then PD only once confirmed).
    """
    if kind is LesionKind.EFFUSION:
        if criteria.effusion_requires_cytology and not cytology_confirmed:
            return NewLesionCall.EQUIVOCAL
        return NewLesionCall.EQUIVOCAL if equivocal else NewLesionCall.UNEQUIVOCAL
    if kind is LesionKind.PORTAL_VEIN_THROMBOSIS or not intrahepatic:
        return NewLesionCall.EQUIVOCAL if equivocal else NewLesionCall.UNEQUIVOCAL
    if criteria.new_lesion_requires_typical_hcc:
        if diameter_mm is None:
            return NewLesionCall.EQUIVOCAL
        if typical_hcc and diameter_mm + _EPS >= criteria.new_lesion_min_mm:
            return NewLesionCall.UNEQUIVOCAL
        if (
            first_seen_diameter_mm is not None
            and diameter_mm - first_seen_diameter_mm + _EPS >= criteria.new_lesion_growth_mm
        ):
            return NewLesionCall.UNEQUIVOCAL
        return NewLesionCall.EQUIVOCAL
    return NewLesionCall.EQUIVOCAL if equivocal else NewLesionCall.UNEQUIVOCAL


def combine_new_lesion_calls(calls: Sequence[NewLesionCall]) -> NewLesionCall:
    """The assessment's call from its lesions' calls: unequivocal > equivocal > none."""
    if NewLesionCall.UNEQUIVOCAL in calls:
        return NewLesionCall.UNEQUIVOCAL
    if NewLesionCall.EQUIVOCAL in calls:
        return NewLesionCall.EQUIVOCAL
    return NewLesionCall.NONE


def compute_overall_response(
    target: Response | None,
    non_target: Response | None,
    new_lesions: NewLesionCall,
) -> Response:
    """Overall timepoint response by RECIST 1.1 Table 1 (targets) or Table 2 (non-targets only).

    ``target`` is None for a subject without target lesions, ``non_target`` None for one without
    non-target lesions. Equivocal new lesions do not make PD (RECIST 1.1 4.3.3).

    Examples
    --------
    >>> compute_overall_response(Response.CR, Response.NON_CR_NON_PD, NewLesionCall.NONE)
    <Response.PR: 'PR'>
    >>> compute_overall_response(None, Response.NON_CR_NON_PD, NewLesionCall.NONE)
    <Response.NON_CR_NON_PD: 'NON-CR/NON-PD'>
    """
    if new_lesions is NewLesionCall.UNEQUIVOCAL:
        return Response.PD
    if target is Response.PD or non_target is Response.PD:
        return Response.PD
    if target is None:  # Table 2
        if non_target is None:
            return Response.NE
        return non_target
    # Table 1
    if target is Response.NE:
        return Response.NE
    if target is Response.CR:
        if non_target is None or non_target is Response.CR:
            return Response.CR
        return Response.PR  # NON-CR/NON-PD or NE (not all evaluated)
    return target  # PR or SD, non-targets non-PD or not all evaluated
