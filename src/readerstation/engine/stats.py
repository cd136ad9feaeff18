"""Statistics of a trial report: exact binomial CIs and Kaplan-Meier with R ``survfit`` CIs.

* Proportions: Clopper-Pearson exact intervals via ``statsmodels`` ``proportion_confint(method=
  "beta")``: two-sided 95 % and the one-sided 90 % lower bound (= lower end of the two-sided 80 %
  interval) used to judge single-arm phase 2 trials.
* Kaplan-Meier: the estimate and event table come from ``lifelines.KaplanMeierFitter``. Its own
  confidence band is the exponential-Greenwood (log-log) one, and its median CI is read off that
  band; R's ``survfit`` default is ``conf.type = "log"``. We therefore compute the Greenwood
  variance of log S(t) from the event table and build the band explicitly, ``"log"`` by default
  (matching R's defaults and the landmark CIs the issue quotes), ``"log-log"`` on request. The
  median CI is Brookmeyer-Crowley: the set of times whose pointwise CI contains 0.5, i.e. the lower
  limit is where the lower band first reaches 0.5 and the upper limit where the upper band does,
  with R's rule that a curve exactly at 0.5 over an interval gives the interval's midpoint.
* Median follow-up: reverse Kaplan-Meier (censoring as the event, deaths censored).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from readerstation.errors import CriteriaError

__all__ = [
    "DAYS_PER_MONTH",
    "KaplanMeierResult",
    "ProportionResult",
    "compute_kaplan_meier",
    "compute_proportion",
    "compute_quantiles",
]

DAYS_PER_MONTH = 30.4375
"""Days per month (365.25 / 12) for months = days / 30.4375."""

_TOL = 1.4901161193847656e-08  # sqrt(machine eps), R's tolerance in quantile.survfit


@dataclass(frozen=True, slots=True)
class ProportionResult:
    """A proportion with its Clopper-Pearson exact confidence bounds (all 0-1).

    Attributes
    ----------
    n : int
        Count (responders).
    total : int
        Denominator.
    proportion : float or None
        ``n / total`` (None when total is 0).
    ci95 : tuple of float or None
        Two-sided 95 % exact interval.
    ci90_lower : float or None
        One-sided 90 % exact lower bound.
    """

    n: int
    total: int
    proportion: float | None
    ci95: tuple[float, float] | None
    ci90_lower: float | None

    def __repr__(self) -> str:
        if self.proportion is None or self.ci95 is None or self.ci90_lower is None:
            return f"ProportionResult({self.n}/{self.total})"
        return (
            f"ProportionResult({self.n}/{self.total} = {self.proportion:.1%}, 95% CI "
            f"{self.ci95[0]:.1%}-{self.ci95[1]:.1%}, one-sided 90% lower {self.ci90_lower:.1%})"
        )

    def to_json(self) -> dict[str, Any]:
        """``{"n", "total", "proportion", "ci95": [lo, hi], "ci90_lower"}`` (0-1, 4 decimals)."""
        return {
            "n": self.n,
            "total": self.total,
            "proportion": _r4(self.proportion),
            "ci95": None if self.ci95 is None else [_r4(self.ci95[0]), _r4(self.ci95[1])],
            "ci90_lower": _r4(self.ci90_lower),
        }


def _r4(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), 4)


def compute_proportion(n: int, total: int) -> ProportionResult:
    """Proportion ``n / total`` with Clopper-Pearson (exact, "beta") bounds.

    >>> r = compute_proportion(21, 45)
    >>> round(r.proportion, 3), round(r.ci90_lower, 3)
    (0.467, 0.363)
    """
    from statsmodels.stats.proportion import proportion_confint

    if total < 0 or n < 0 or n > total:
        raise CriteriaError(f"proportion: expected 0 <= n <= total, received n={n}, total={total}.")
    if total == 0:
        return ProportionResult(n, total, None, None, None)
    lo, hi = proportion_confint(n, total, alpha=0.05, method="beta")
    lo80, _ = proportion_confint(n, total, alpha=0.20, method="beta")
    lo, hi, lo80 = (0.0 if np.isnan(x) else float(x) for x in (lo, hi, lo80))
    if n == total:
        hi = 1.0
    return ProportionResult(n, total, n / total, (lo, hi), lo80)


def compute_quantiles(values: Sequence[float]) -> dict[str, float | None]:
    """Median and quartiles (numpy's linear interpolation, R type 7) of uncensored values."""
    if not values:
        return {"median": None, "q1": None, "q3": None}
    q1, med, q3 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return {"median": float(med), "q1": float(q1), "q3": float(q3)}


@dataclass(frozen=True, slots=True)
class KaplanMeierResult:
    """A Kaplan-Meier estimate with Greenwood confidence band (times in days).

    Attributes
    ----------
    times : ndarray, shape (k,)
        Distinct event or censoring times (days), increasing.
    survival : ndarray, shape (k,)
        S(t) just after each time.
    lower, upper : ndarray, shape (k,)
        Pointwise 95 % band (``conf_type``); NaN where S = 0 (R gives NA).
    n_at_risk, n_events, n_censored : ndarray, shape (k,)
        Event table.
    conf_type : {"log", "log-log"}
        Transformation of the band.
    n : int
        Subjects.
    n_events_total : int
        Events.
    """

    times: NDArray[np.float64]
    survival: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    n_at_risk: NDArray[np.int64]
    n_events: NDArray[np.int64]
    n_censored: NDArray[np.int64]
    conf_type: str
    n: int
    n_events_total: int
    median: float | None = field(default=None)
    median_ci: tuple[float | None, float | None] = field(default=(None, None))

    def __repr__(self) -> str:
        med = "not reached" if self.median is None else f"{self.median / DAYS_PER_MONTH:.1f} mo"
        return (
            f"KaplanMeierResult(n={self.n}, events={self.n_events_total}, median {med}, "
            f"conf.type={self.conf_type!r})"
        )

    def survival_at(self, t_days: float) -> tuple[float, float | None, float | None] | None:
        """S(t) and its 95 % CI at ``t_days``; None beyond the last observed time (as R's
        ``summary(fit, times=)``), except that a curve that has dropped to 0 stays 0 (CI None):
        when every subject had the event before ``t_days`` the rate is known to be 0."""
        if self.n == 0:
            return None
        if t_days > float(self.times[-1]) + 1e-9:
            if float(self.survival[-1]) <= 0.0:
                return (0.0, None, None)
            return None
        i = int(np.searchsorted(self.times, t_days, side="right")) - 1
        if i < 0:
            return (1.0, 1.0, 1.0)
        s, lo, hi = float(self.survival[i]), float(self.lower[i]), float(self.upper[i])
        return (s, None if math.isnan(lo) else lo, None if math.isnan(hi) else hi)

    def quantile(self, p: float) -> tuple[float | None, float | None, float | None]:
        """Time at which S(t) reaches ``1 - p`` with its Brookmeyer-Crowley CI (days)."""
        target = 1.0 - p
        est = _first_time_below(self.times, self.survival, self.n_events, target)
        lo = _first_time_below(self.times, self.lower, self.n_events, target)
        hi = _first_time_below(self.times, self.upper, self.n_events, target)
        return est, lo, hi

    def to_json(self, landmarks_months: Sequence[int] = (12, 24, 36)) -> dict[str, Any]:
        """``{"median_months", "median_ci95": [lo, hi], "rates": {"12": {"rate", "ci95"}, ...},
        "n", "events"}``; months = days / 30.4375, rates 0-1; null where not reached or past
        follow-up."""
        rates: dict[str, Any] = {}
        for m in landmarks_months:
            at = self.survival_at(m * DAYS_PER_MONTH)
            if at is None:
                rates[str(m)] = {"rate": None, "ci95": None}
            else:
                s, lo, hi = at
                rates[str(m)] = {
                    "rate": _r4(s),
                    "ci95": None if lo is None or hi is None else [_r4(lo), _r4(hi)],
                }
        return {
            "n": self.n,
            "events": self.n_events_total,
            "median_months": _months(self.median),
            "median_ci95": [_months(self.median_ci[0]), _months(self.median_ci[1])],
            "conf_type": self.conf_type,
            "rates": rates,
        }


def _months(days: float | None) -> float | None:
    return None if days is None else round(days / DAYS_PER_MONTH, 2)


def _first_time_below(
    times: NDArray[np.float64],
    curve: NDArray[np.float64],
    events: NDArray[np.int64],
    target: float,
) -> float | None:
    """First time the step curve is <= ``target`` (R: the midpoint when exactly at it over an
    interval)."""
    hits = np.flatnonzero(~np.isnan(curve) & (curve <= target + _TOL))
    if hits.size == 0:
        return None
    i = int(hits[0])
    if abs(float(curve[i]) - target) < _TOL:
        later = np.flatnonzero((np.arange(times.size) > i) & (events > 0))
        if later.size:
            return (float(times[i]) + float(times[int(later[0])])) / 2.0
    return float(times[i])


def compute_kaplan_meier(
    durations_days: Sequence[float] | NDArray[np.float64],
    events: Sequence[bool] | NDArray[np.bool_],
    *,
    conf_type: Literal["log", "log-log"] = "log",
    alpha: float = 0.05,
) -> KaplanMeierResult:
    """Kaplan-Meier estimate with R-``survfit``-style Greenwood CIs and median (BC) CI.

    Parameters
    ----------
    durations_days : sequence of float, shape (n,)
        Time from treatment start to event or censoring (days, >= 0).
    events : sequence of bool, shape (n,)
        True for an event.
    conf_type : {"log", "log-log"}
        ``"log"`` (R's default): S * exp(+-z se(log S)); ``"log-log"``:
        S ** exp(+-z se / log S).
    alpha : float
        1 - confidence level.

    Examples
    --------
    33 of 45 subjects event-free at 12 months, no censoring before (the issue's check):

    >>> km = compute_kaplan_meier([100.0] * 12 + [400.0] * 33, [True] * 12 + [False] * 33)
    >>> s, lo, hi = km.survival_at(12 * DAYS_PER_MONTH)
    >>> round(s, 3), round(lo, 3), round(hi, 3)
    (0.733, 0.615, 0.875)
    """
    from lifelines import KaplanMeierFitter
    from scipy.stats import norm

    t = np.asarray(durations_days, dtype=float)
    e = np.asarray(events, dtype=bool)
    if t.shape != e.shape or t.ndim != 1:
        raise CriteriaError(
            f"kaplan-meier: expected durations and events of the same length, received "
            f"{t.shape} and {e.shape}."
        )
    if t.size and (np.isnan(t).any() or (t < 0).any()):
        raise CriteriaError(
            "kaplan-meier: expected durations >= 0 days, received a negative or NaN."
        )
    if conf_type not in ("log", "log-log"):
        raise CriteriaError(
            f"kaplan-meier: conf_type must be 'log' or 'log-log', received {conf_type!r}."
        )
    empty_i = np.zeros(0, dtype=np.int64)
    empty_f = np.zeros(0, dtype=float)
    if t.size == 0:
        return KaplanMeierResult(
            empty_f, empty_f, empty_f, empty_f, empty_i, empty_i, empty_i, conf_type, 0, 0
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kmf = KaplanMeierFitter().fit(t, event_observed=e)
    table = kmf.event_table
    times_all = table.index.to_numpy(dtype=float)
    d = table["observed"].to_numpy(dtype=np.int64)
    c = table["censored"].to_numpy(dtype=np.int64)
    n_risk = table["at_risk"].to_numpy(dtype=np.int64)
    keep = times_all > 0 if times_all[0] == 0 and d[0] == 0 and c[0] == 0 else np.ones_like(d, bool)
    times_all, d, c, n_risk = times_all[keep], d[keep], c[keep], n_risk[keep]
    surv = np.cumprod(1.0 - d / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0)
        var_log = np.cumsum(inc)
        se = np.sqrt(var_log)
        z = float(norm.ppf(1.0 - alpha / 2.0))
        if conf_type == "log":
            lower = surv * np.exp(-z * se)
            upper = np.minimum(1.0, surv * np.exp(z * se))
        else:
            log_s = np.log(surv)
            se_ll = se / np.abs(log_s)
            lower = surv ** np.exp(z * se_ll)
            upper = surv ** np.exp(-z * se_ll)
            flat = surv >= 1.0
            lower = np.where(flat, 1.0, lower)
            upper = np.where(flat, 1.0, upper)
    zero = surv <= 0
    lower = np.where(zero, np.nan, lower)
    upper = np.where(zero, np.nan, upper)
    lower = np.where(np.isfinite(lower) | zero, lower, np.nan)
    upper = np.where(np.isfinite(upper) | zero, upper, np.nan)
    result = KaplanMeierResult(
        times_all, surv, lower, upper, n_risk, d, c, conf_type, int(t.size), int(e.sum())
    )
    med, lo, hi = result.quantile(0.5)
    return KaplanMeierResult(
        times_all,
        surv,
        lower,
        upper,
        n_risk,
        d,
        c,
        conf_type,
        int(t.size),
        int(e.sum()),
        median=med,
        median_ci=(lo, hi),
    )
