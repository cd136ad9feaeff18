"""Trial level: counts of best overall response, ORR, DCR, TTR, DOR, PFS, OS, follow-up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from readerstation.criteria.enums import Response
from readerstation.criteria.params import ResponseCriteria
from readerstation.engine.model import Timeline, pause_gc
from readerstation.engine.stats import (
    DAYS_PER_MONTH,
    KaplanMeierResult,
    ProportionResult,
    compute_kaplan_meier,
    compute_proportion,
    compute_quantiles,
)
from readerstation.engine.subject import SubjectResult, derive_subject_response

__all__ = ["TrialSummary", "derive_subject_responses", "derive_trial_summary"]

_ORDER = (
    Response.CR,
    Response.PR,
    Response.SD,
    Response.NON_CR_NON_PD,
    Response.PD,
    Response.NE,
)


@dataclass(frozen=True, slots=True)
class TrialSummary:
    """A trial's response summary for one criteria.

    Attributes
    ----------
    criteria : str
        Criteria name.
    n : int
        Subjects.
    counts : dict of str to int
        Subjects by confirmed best overall response (every category, zeros included).
    orr : ProportionResult
        Objective response: confirmed CR + PR.
    dcr : ProportionResult
        Disease control: CR + PR + SD / NON-CR/NON-PD lasting ``dcr_sd_min_days``.
    dcr_sd_min_days : int
        The SD duration used for DCR (days from treatment start).
    ttr_days : dict
        Median, q1, q3 of time to response among confirmed responders (days; descriptive,
        no censoring applies).
    dor : KaplanMeierResult
        Kaplan-Meier duration of response among confirmed responders (censored at the last
        adequate assessment); its quartiles are reported.
    pfs, os : KaplanMeierResult or None
        Kaplan-Meier PFS and OS (OS None when no subject has death or last-known-alive dates).
    follow_up : KaplanMeierResult or None
        Reverse Kaplan-Meier of OS times (median follow-up).
    """

    criteria: str
    n: int
    counts: dict[str, int]
    orr: ProportionResult
    dcr: ProportionResult
    dcr_sd_min_days: int
    ttr_days: dict[str, float | None]
    dor: KaplanMeierResult
    pfs: KaplanMeierResult
    os: KaplanMeierResult | None
    follow_up: KaplanMeierResult | None

    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items() if v)
        return (
            f"TrialSummary({self.criteria}, n={self.n}: {counts}; ORR {self.orr!r}; "
            f"DCR {self.dcr!r})"
        )

    def to_json(self) -> dict[str, Any]:
        """The ``summary`` CLI's JSON (proportions 0-1, times in months = days / 30.4375)."""

        def months(x: float | None) -> float | None:
            return None if x is None else round(x / DAYS_PER_MONTH, 2)

        dor_q = [self.dor.quantile(p)[0] for p in (0.25, 0.5, 0.75)]
        follow = None
        if self.follow_up is not None:
            follow = {
                "median_months": months(self.follow_up.median),
                "median_ci95": [
                    months(self.follow_up.median_ci[0]),
                    months(self.follow_up.median_ci[1]),
                ],
                "method": "reverse Kaplan-Meier",
            }
        return {
            "criteria": self.criteria,
            "n": self.n,
            "counts": dict(self.counts),
            "proportions": {
                k: (round(v / self.n, 4) if self.n else None) for k, v in self.counts.items()
            },
            "orr": self.orr.to_json(),
            "dcr": {**self.dcr.to_json(), "sd_min_days": self.dcr_sd_min_days},
            "ttr": {
                "n": self.orr.n,
                "median_months": months(self.ttr_days["median"]),
                "iqr_months": [months(self.ttr_days["q1"]), months(self.ttr_days["q3"])],
                "method": "empirical quartiles of responders",
            },
            "dor": {
                "n": self.dor.n,
                "events": self.dor.n_events_total,
                "median_months": months(dor_q[1]),
                "median_ci95": [months(self.dor.median_ci[0]), months(self.dor.median_ci[1])],
                "iqr_months": [months(dor_q[0]), months(dor_q[2])],
                "method": "Kaplan-Meier quartiles of responders",
            },
            "pfs": self.pfs.to_json(),
            "os": None if self.os is None else self.os.to_json(),
            "follow_up": follow,
        }


def derive_subject_responses(timeline: Timeline, criteria: ResponseCriteria) -> list[SubjectResult]:
    """:func:`derive_subject_response` for every subject (all-or-nothing: the first invalid
    subject raises :class:`CriteriaError` and nothing is returned)."""
    with pause_gc():
        return [derive_subject_response(s, criteria) for s in timeline.subjects]


def derive_trial_summary(
    results: Sequence[SubjectResult],
    criteria: ResponseCriteria,
    *,
    timeline: Timeline | None = None,
) -> TrialSummary:
    """Summarise subject results: counts, ORR, DCR, TTR, DOR, PFS, OS, follow-up.

    Parameters
    ----------
    results : sequence of SubjectResult
        From :func:`derive_subject_responses` with the same ``criteria``.
    criteria : ResponseCriteria
        Gives ``dcr_sd_min_days``.
    timeline : Timeline, optional
        Used to tell whether any subject carries survival dates (OS is None otherwise).
    """
    n = len(results)
    counts = {r.value: 0 for r in _ORDER}
    for s in results:
        counts[s.best_overall_response.value] += 1
    responders = [s for s in results if s.best_overall_response in (Response.CR, Response.PR)]
    dc = sum(1 for s in results if s.check_disease_control(criteria))
    ttr = [
        float(s.time_to_response_days) for s in responders if s.time_to_response_days is not None
    ]
    dor = compute_kaplan_meier(
        [float(s.duration_of_response_days or 0) for s in responders],
        [bool(s.dor_event) for s in responders],
    )
    pfs = compute_kaplan_meier([float(s.pfs_days) for s in results], [s.pfs_event for s in results])
    has_survival = timeline is None or any(
        s.death_date is not None or s.last_known_alive is not None for s in timeline.subjects
    )
    os_km = follow = None
    if has_survival and results:
        os_t = [float(s.os_days or 0) for s in results]
        os_e = [bool(s.os_event) for s in results]
        os_km = compute_kaplan_meier(os_t, os_e)
        follow = compute_kaplan_meier(os_t, [not e for e in os_e])
    return TrialSummary(
        criteria=criteria.name,
        n=n,
        counts=counts,
        orr=compute_proportion(len(responders), n),
        dcr=compute_proportion(dc, n),
        dcr_sd_min_days=criteria.effective_dcr_sd_min_days,
        ttr_days=compute_quantiles(ttr),
        dor=dor,
        pfs=pfs,
        os=os_km,
        follow_up=follow,
    )
