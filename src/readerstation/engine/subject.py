"""Subject level: best overall response (confirmed and unconfirmed), TTR, DOR, PFS, OS.

Conventions (each a documented field of the criteria object, see
:class:`readerstation.criteria.ResponseCriteria`):

* Only follow-up assessments on or after treatment start and up to and including the first PD
  count; a subject with none is NE; a missing response counts NE.
* A CR is confirmed by a later CR at least ``confirm_days`` after it with only CR or NE between; a
  PR (or a CR) by a later CR or PR with only CR, PR or NE between; at most ``max_ne_between`` NE
  between. A CR followed by a confirming PR gives a confirmed PR (RECIST 1.1 Table 3 footnote: the
  first CR was in fact a PR).
* SD, NON-CR/NON-PD and unconfirmed CR/PR count as SD (NON-CR/NON-PD for subjects without target
  disease) only at an assessment at least ``sd_min_days`` after treatment start; otherwise the
  best response is PD if progression follows, else NE (RECIST 1.1 Table 3).
* Day counts are date differences (no +1). PFS follows the FDA 2018 table (see
  :func:`derive_subject_response`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from readerstation.criteria.enums import NewLesionCall, Response
from readerstation.criteria.params import ResponseCriteria
from readerstation.engine.model import SubjectTimeline
from readerstation.engine.timepoint import TimepointResult, derive_timepoints

__all__ = ["SubjectResult", "derive_subject_response"]

_ADEQUATE = frozenset({Response.CR, Response.PR, Response.SD, Response.NON_CR_NON_PD})


@dataclass(frozen=True, slots=True)
class SubjectResult:
    """Per-subject results of one criteria.

    Attributes
    ----------
    subject : str
        Subject code.
    criteria : str
        Criteria name ("RECIST 1.1", "mRECIST").
    treatment_start : datetime.date
        Day 0 of every duration.
    timepoints : tuple of TimepointResult
        Baseline first; after a confirmed PR, SD timepoints read PR (RECIST FAQ).
    best_overall_response, best_overall_response_unconfirmed : Response
        Confirmed (CR/PR need confirmation) and unconfirmed best overall response.
    first_response_date : datetime.date or None
        First assessment of the confirmed response (None unless the confirmed BOR is CR or PR).
    time_to_response_days, duration_of_response_days : int or None
        From treatment start to ``first_response_date``, and from it to progression/death
        (event) or to the PFS censoring date (days).
    dor_event : bool or None
        True when the response ended by progression or death.
    progression_date : datetime.date or None
        Date of the first PD in the counted window (dated back to an equivocal new lesion when
        confirmed); None when there is none or when death is the PFS event.
    pfs_date : datetime.date
        PFS event or censoring date.
    pfs_days : int
        ``pfs_date`` - treatment start (days).
    pfs_event : bool
        Progression or death (True) or censored (False).
    last_adequate_date : datetime.date or None
        Last counted assessment with CR, PR, SD or NON-CR/NON-PD before progression.
    max_change_from_baseline_pct : float or None
        Smallest (most negative) change of the target sum from baseline among the counted
        follow-ups (for the waterfall plot).
    os_days : int or None
        Death date (event) or last-known-alive date (censored; the last assessment when not
        given or later) minus treatment start (days).
    os_event : bool or None
        Death.
    evaluable : bool
        False when the criteria cannot assess the subject (mRECIST without enhancing target).
    has_targets : bool
        The baseline has target lesions (response-only subjects: True).
    """

    subject: str
    criteria: str
    treatment_start: dt.date
    timepoints: tuple[TimepointResult, ...]
    best_overall_response: Response
    best_overall_response_unconfirmed: Response
    first_response_date: dt.date | None
    time_to_response_days: int | None
    duration_of_response_days: int | None
    dor_event: bool | None
    progression_date: dt.date | None
    pfs_date: dt.date
    pfs_days: int
    pfs_event: bool
    last_adequate_date: dt.date | None
    max_change_from_baseline_pct: float | None
    os_days: int | None
    os_event: bool | None
    evaluable: bool = True
    has_targets: bool = True

    def __repr__(self) -> str:
        return (
            f"SubjectResult({self.subject}, {self.criteria}: BOR {self.best_overall_response} "
            f"(unconfirmed {self.best_overall_response_unconfirmed}), PFS {self.pfs_days} d "
            f"{'event' if self.pfs_event else 'censored'}, {len(self.timepoints)} timepoints)"
        )

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON object for this subject."""
        return {
            "subject": self.subject,
            "criteria": self.criteria,
            "treatment_start": self.treatment_start.isoformat(),
            "timepoints": [tp.to_json() for tp in self.timepoints],
            "best_overall_response": self.best_overall_response.value,
            "best_overall_response_unconfirmed": self.best_overall_response_unconfirmed.value,
            "first_response_date": _d(self.first_response_date),
            "time_to_response_days": self.time_to_response_days,
            "duration_of_response_days": self.duration_of_response_days,
            "dor_event": self.dor_event,
            "progression_date": _d(self.progression_date),
            "pfs_date": self.pfs_date.isoformat(),
            "pfs_days": self.pfs_days,
            "pfs_event": self.pfs_event,
            "last_adequate_date": _d(self.last_adequate_date),
            "max_change_from_baseline_pct": (
                None
                if self.max_change_from_baseline_pct is None
                else round(self.max_change_from_baseline_pct, 2)
            ),
            "os_days": self.os_days,
            "os_event": self.os_event,
            "evaluable": self.evaluable,
        }

    def check_disease_control(self, criteria: ResponseCriteria) -> bool:
        """True for CR, PR, or SD / NON-CR/NON-PD lasting ``dcr_sd_min_days`` (last assessment
        without progression at least that many days after treatment start)."""
        bor = self.best_overall_response
        if bor in (Response.CR, Response.PR):
            return True
        if bor in (Response.SD, Response.NON_CR_NON_PD) and self.last_adequate_date is not None:
            days = (self.last_adequate_date - self.treatment_start).days
            return days >= criteria.effective_dcr_sd_min_days
        return False


def _d(x: dt.date | None) -> str | None:
    return None if x is None else x.isoformat()


def _confirmed(
    responses: list[Response],
    dates: list[dt.date],
    i: int,
    allowed: frozenset[Response],
    criteria: ResponseCriteria,
) -> bool:
    """Whether the response at ``i`` is confirmed by a later one in ``allowed``."""
    n_ne = 0
    for j in range(i + 1, len(responses)):
        r = responses[j]
        if r in allowed:
            if (dates[j] - dates[i]).days >= criteria.confirm_days:
                return True
        elif r is Response.NE:
            n_ne += 1
            if n_ne > criteria.max_ne_between:
                return False
        else:
            return False
    return False


_CR_SET = frozenset({Response.CR})
_CRPR_SET = frozenset({Response.CR, Response.PR})


def derive_subject_response(subject: SubjectTimeline, criteria: ResponseCriteria) -> SubjectResult:
    """Derive a subject's timepoints and subject-level results.

    PFS (FDA 2018): the event is the first PD (or death without PD) when it is at most
    ``criteria.pfs_max_gap_days`` after the last adequate assessment (treatment start when there
    is none); otherwise PFS is censored at that last adequate assessment. Without progression or
    death PFS is censored at the last adequate assessment, or at treatment start when there is
    no adequate post-baseline assessment.

    Raises
    ------
    CriteriaError
        Invalid input (see :func:`derive_timepoints`).
    """
    tps, evaluable = derive_timepoints(subject, criteria)
    start = subject.treatment_start
    has_targets = subject.response_only or bool(subject.baseline.targets)

    # counted window: follow-ups on/after treatment start up to and including the first PD
    idx: list[int] = []
    for k in range(1, len(tps)):
        if tps[k].date < start:
            continue
        idx.append(k)
        if tps[k].overall_response is Response.PD:
            break
    resp = [tps[k].overall_response or Response.NE for k in idx]
    dates = [tps[k].date for k in idx]

    cr_conf = [
        i
        for i, r in enumerate(resp)
        if r is Response.CR and _confirmed(resp, dates, i, _CR_SET, criteria)
    ]
    pr_conf = [
        i
        for i, r in enumerate(resp)
        if r in _CRPR_SET and _confirmed(resp, dates, i, _CRPR_SET, criteria)
    ]
    sd_ok = [
        i
        for i, r in enumerate(resp)
        if r in _ADEQUATE and (dates[i] - start).days >= criteria.sd_min_days
    ]
    if not has_targets:
        sd_label = Response.NON_CR_NON_PD
    elif (
        subject.response_only
        and not any(r in (Response.SD, Response.PR) for r in resp)
        and any(r is Response.NON_CR_NON_PD for r in resp)
    ):
        sd_label = Response.NON_CR_NON_PD
    else:
        sd_label = Response.SD
    has_pd = Response.PD in resp

    if cr_conf:
        bor = Response.CR
    elif pr_conf:
        bor = Response.PR
    elif sd_ok:
        bor = sd_label
    elif has_pd:
        bor = Response.PD
    else:
        bor = Response.NE

    if Response.CR in resp:
        bor_u = Response.CR
    elif Response.PR in resp:
        bor_u = Response.PR
    elif sd_ok:
        bor_u = sd_label
    elif has_pd:
        bor_u = Response.PD
    else:
        bor_u = Response.NE

    # RECIST FAQ: after a confirmed PR, SD timepoints stay PR
    timepoints = list(tps)
    first_resp_i = pr_conf[0] if bor in _CRPR_SET and pr_conf else None
    if first_resp_i is not None and criteria.confirmed_pr_holds:
        for i in range(first_resp_i + 1, len(resp)):
            if resp[i] is Response.SD:
                timepoints[idx[i]] = timepoints[idx[i]].with_overall(Response.PR)

    # progression date (dated back to the first of consecutive equivocal new-lesion assessments)
    pd_i = len(resp) - 1 if has_pd else None
    pd_date: dt.date | None = None
    first_relevant = len(resp)
    if pd_i is not None:
        pd_date = dates[pd_i]
        first_relevant = pd_i
        if (
            criteria.backdate_equivocal_new_lesions
            and tps[idx[pd_i]].new_lesions is NewLesionCall.UNEQUIVOCAL
        ):
            j = pd_i - 1
            while j >= 0 and tps[idx[j]].new_lesions is NewLesionCall.EQUIVOCAL:
                j -= 1
            if j < pd_i - 1:
                first_relevant = j + 1
                pd_date = dates[j + 1]
    last_adequate: dt.date | None = None
    for i in range(first_relevant):
        if resp[i] in _ADEQUATE:
            last_adequate = dates[i]

    # PFS
    ref = last_adequate or start
    gap = criteria.pfs_max_gap_days
    death = subject.death_date
    progression_date: dt.date | None = None
    if pd_date is not None:
        progression_date = pd_date
        if (pd_date - ref).days <= gap:
            pfs_date, pfs_event = pd_date, True
        else:
            pfs_date, pfs_event = ref, False
    elif death is not None and (death - ref).days <= gap:
        pfs_date, pfs_event = death, True
    else:
        pfs_date, pfs_event = ref, False

    # response timing
    first_response_date = dates[first_resp_i] if first_resp_i is not None else None
    ttr = dor = None
    dor_event: bool | None = None
    if first_response_date is not None:
        ttr = (first_response_date - start).days
        dor = max(0, (pfs_date - first_response_date).days)
        dor_event = pfs_event

    max_change: float | None = None
    for k in idx:
        change = timepoints[k].change_from_baseline_pct
        if change is not None and (max_change is None or change < max_change):
            max_change = change

    if death is not None:
        os_days: int | None = (death - start).days
        os_event: bool | None = True
    else:
        # the subject was alive at every assessment: a last-known-alive date earlier than the
        # last assessment would shorten OS follow-up
        last_alive = max(
            subject.last_known_alive or subject.assessments[-1].date, subject.assessments[-1].date
        )
        os_days, os_event = max(0, (last_alive - start).days), False

    return SubjectResult(
        subject=subject.subject,
        criteria=criteria.name,
        treatment_start=start,
        timepoints=tuple(timepoints),
        best_overall_response=bor,
        best_overall_response_unconfirmed=bor_u,
        first_response_date=first_response_date,
        time_to_response_days=ttr,
        duration_of_response_days=dor,
        dor_event=dor_event,
        progression_date=progression_date,
        pfs_date=pfs_date,
        pfs_days=(pfs_date - start).days,
        pfs_event=pfs_event,
        last_adequate_date=last_adequate,
        max_change_from_baseline_pct=max_change,
        os_days=os_days,
        os_event=os_event,
        evaluable=evaluable,
        has_targets=has_targets,
    )
