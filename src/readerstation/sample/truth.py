"""Expected RECIST 1.1 / mRECIST responses of the designed subjects, from their true diameters.

This is deliberately a small, transparent restatement of the rules used to *design* the sample
(sums, percent change from baseline and from nadir, timepoint response, best overall response);
the project's response engine is the real implementation and is tested against the values this
produces for the sample (which the sample tests check against hand-computed numbers).

Rules (RECIST 1.1, Eisenhauer 2009; mRECIST, Lencioni & Llovet 2010, same arithmetic on the viable
diameters):

* target CR: sum 0; PD: sum >= nadir * (1 + 20 %) and >= nadir + ``pd_min_increase_mm``
  (RECIST 1.1: 5 mm; mRECIST 2010: no absolute minimum, 0 mm) (nadir = smallest sum so far,
  baseline included); PR: sum <= baseline * (1 - 30 %); otherwise SD;
* non-targets: all absent -> CR, unequivocal progression -> PD, otherwise NON-CR/NON-PD;
* an unequivocal new lesion -> PD;
* best overall response: CR/PR need confirmation by a CR/PR at least ``confirmation_min_days``
  later; SD needs an SD-or-better assessment at least ``sd_min_days`` (35) after treatment start.

The thresholds, the category strings (``NON-CR/NON-PD``) and the ``new_lesions`` words (``none``,
``unequivocal``) are those of the response engine's contract and defaults
(``readerstation.criteria.Recist11Criteria`` / ``MRecistCriteria``, docs/response-engine.md);
``tests/test_sample_design.py`` checks that they stay equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from readerstation.errors import SampleDataError

__all__ = [
    "MRECIST",
    "RECIST_1_1",
    "Response",
    "ResponseRules",
    "TimepointSums",
    "derive_best_overall_response",
    "derive_timepoint_responses",
]  # fmt: skip


class Response(Enum):
    """Response categories (RECIST 1.1 words)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NON_CR_NON_PD = "NON-CR/NON-PD"
    NE = "NE"


@dataclass(frozen=True)
class ResponseRules:
    """Thresholds of a response criterion.

    Parameters
    ----------
    name : str
        ``"RECIST 1.1"`` or ``"mRECIST"``.
    pr_change_pct : float
        Percent change of the sum from baseline at or below which targets are PR (-30).
    pd_change_pct : float
        Percent change from nadir at or above which targets are PD (+20).
    pd_min_increase_mm : float
        Absolute increase over nadir also required for PD (RECIST 1.1: 5 mm; mRECIST: 0 mm, the
        2010 definition has no absolute minimum).
    confirmation_min_days : int
        Minimum days between a CR/PR and the assessment confirming it (28).
    sd_min_days : int
        Minimum days after treatment start for SD to count as best response (35: 6-weekly
        imaging minus a 7-day window, the engine's default).
    """

    name: str
    pr_change_pct: float = -30.0
    pd_change_pct: float = 20.0
    pd_min_increase_mm: float = 5.0
    confirmation_min_days: int = 28
    sd_min_days: int = 35

    def __post_init__(self) -> None:
        if not self.pr_change_pct < 0 < self.pd_change_pct:
            raise SampleDataError(
                f"{self.name}: pr_change_pct must be negative and pd_change_pct positive; "
                f"received {self.pr_change_pct}, {self.pd_change_pct}."
            )


RECIST_1_1 = ResponseRules("RECIST 1.1")
MRECIST = ResponseRules("mRECIST", pd_min_increase_mm=0.0)


@dataclass(frozen=True)
class TimepointSums:
    """Inputs of one assessment: date, target diameters, non-target status, new lesions."""

    date: dt.date
    target_diameters_mm: tuple[float, ...]
    non_targets_absent: bool = False
    non_target_progression: bool = False
    new_lesion: bool = False
    """An unequivocal new lesion is present."""

    @property
    def sum_mm(self) -> float:
        """Sum of the target diameters (mm)."""
        return round(sum(self.target_diameters_mm), 3)


@dataclass(frozen=True)
class TimepointResult:
    """Expected result of one assessment (baseline has no response)."""

    date: dt.date
    sum_mm: float
    nadir_mm: float | None
    change_from_baseline_pct: float | None
    change_from_nadir_pct: float | None
    target_response: Response | None
    non_target_response: Response | None
    new_lesions: str | None
    """``"none"`` or ``"unequivocal"`` (the engine's words); None at baseline."""
    overall_response: Response | None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        return {
            "date": self.date.isoformat(),
            "sum_mm": self.sum_mm,
            "nadir_mm": self.nadir_mm,
            "change_from_baseline_pct": self.change_from_baseline_pct,
            "change_from_nadir_pct": self.change_from_nadir_pct,
            "target_response": None if self.target_response is None else self.target_response.value,
            "non_target_response": (
                None if self.non_target_response is None else self.non_target_response.value
            ),
            "new_lesions": self.new_lesions,
            "overall_response": (
                None if self.overall_response is None else self.overall_response.value
            ),
        }


def _pct(value: float, ref: float) -> float | None:
    return None if ref == 0 else round(100.0 * (value - ref) / ref, 1)


def derive_timepoint_responses(
    assessments: Sequence[TimepointSums], rules: ResponseRules
) -> list[TimepointResult]:
    """Expected timepoint responses; the first assessment is the baseline.

    Parameters
    ----------
    assessments : sequence of TimepointSums
        Baseline first, then follow-ups in date order.
    rules : ResponseRules

    Returns
    -------
    list of TimepointResult
    """
    if not assessments:
        raise SampleDataError("derive_timepoint_responses needs at least a baseline assessment.")
    base = assessments[0]
    out = [TimepointResult(base.date, base.sum_mm, None, None, None, None, None, None, None)]
    nadir = base.sum_mm
    for a in assessments[1:]:
        s = a.sum_mm
        from_base = _pct(s, base.sum_mm)
        from_nadir = _pct(s, nadir)
        if (
            from_nadir is not None
            and 100.0 * (s - nadir) / nadir >= rules.pd_change_pct
            and s - nadir >= rules.pd_min_increase_mm
        ):
            tr = Response.PD
        elif s == 0:
            tr = Response.CR
        elif (
            from_base is not None and 100.0 * (s - base.sum_mm) / base.sum_mm <= rules.pr_change_pct
        ):
            tr = Response.PR
        else:
            tr = Response.SD
        if a.non_target_progression:
            ntr = Response.PD
        elif a.non_targets_absent:
            ntr = Response.CR
        else:
            ntr = Response.NON_CR_NON_PD
        if tr is Response.PD or ntr is Response.PD or a.new_lesion:
            overall = Response.PD
        elif tr is Response.CR and ntr is Response.CR:
            overall = Response.CR
        elif tr in (Response.CR, Response.PR):
            overall = Response.PR
        else:
            overall = Response.SD
        new = "unequivocal" if a.new_lesion else "none"
        out.append(TimepointResult(a.date, s, nadir, from_base, from_nadir, tr, ntr,
                                   new, overall))  # fmt: skip
        nadir = min(nadir, s)
    return out


def derive_best_overall_response(
    results: Sequence[TimepointResult], treatment_start: dt.date, rules: ResponseRules
) -> dict[str, str]:
    """Best overall response, confirmed and unconfirmed.

    Returns
    -------
    dict
        ``{"unconfirmed": ..., "confirmed": ...}`` with Response values.
    """
    order = [Response.CR, Response.PR, Response.SD, Response.PD, Response.NE]
    fus = [r for r in results[1:] if r.overall_response is not None]
    unconfirmed = Response.NE
    confirmed = Response.NE
    for i, r in enumerate(fus):
        resp = r.overall_response
        if resp is None:
            continue
        if resp is Response.PD:
            unconfirmed = min(unconfirmed, Response.PD, key=order.index)
            confirmed = min(confirmed, Response.PD, key=order.index)
            break
        days = (r.date - treatment_start).days
        if resp is Response.SD and days < rules.sd_min_days:
            continue
        unconfirmed = min(unconfirmed, resp, key=order.index)
        if resp in (Response.CR, Response.PR):
            later = [
                q.overall_response
                for q in fus[i + 1 :]
                if (q.date - r.date).days >= rules.confirmation_min_days
            ]
            if later and later[0] in (Response.CR, Response.PR):
                best = resp if later[0] is Response.CR or resp is Response.PR else Response.PR
                confirmed = min(confirmed, best, key=order.index)
            elif days >= rules.sd_min_days:
                confirmed = min(confirmed, Response.SD, key=order.index)
        else:
            confirmed = min(confirmed, resp, key=order.index)
    return {"unconfirmed": unconfirmed.value, "confirmed": confirmed.value}
