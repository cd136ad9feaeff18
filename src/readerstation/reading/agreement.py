"""Reader agreement and adjudication monitoring of a dual-read trial, per criteria.

For every criteria (RECIST 1.1, mRECIST) :func:`compute_agreement` reports, over the subjects
with two signed reads:

* **adjudication rate**: subjects needing adjudication / subjects compared (0-1). Ford et al.
  report 42 % (95 % CI 41-42 %) over 79 BICR trials (Ford RR, O'Neal M, Moskowitz SC,
  Fraunberger J. "Adjudication Rates between Readers in Blinded Independent Central Review of
  Oncology Studies". J Clin Trials 2016;6(5)).
* **BOR disagreement rate**: subjects whose two confirmed best overall responses differ / subjects.
* **Cohen's kappa** (unweighted) on the best overall response (one pair per subject) and on the
  overall timepoint response (one pair per follow-up timepoint of every subject), with its
  asymptotic 95 % CI, by :func:`statsmodels.stats.inter_rater.cohens_kappa` on the square
  table over the union of the categories either reader used:
  ``kappa = (p_o - p_e) / (1 - p_e)``. Undefined (None) with fewer than 2 pairs or when
  ``p_e = 1`` (both readers used one and the same category only).
* **ICC(2,1)**, two-way random effects, absolute agreement, single rater (Shrout & Fleiss 1979,
  Psychol Bull 86:420-428; McGraw & Wong 1996 "ICC(A,1)") on the sums of target diameters
  (mm) of both readers at every timepoint (baseline and follow-ups) where both have a sum, from
  the two-way ANOVA mean squares of the n x k (k = 2) matrix::

      ICC(2,1) = (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n)

  with MSR rows (timepoints), MSC columns (readers), MSE residual. Undefined (None) with n < 2
  or a zero denominator (no variance at all). Timepoints of one subject are not independent:
  read it as a descriptive figure.
* **Bland-Altman** limits of agreement on the same pairs (Bland & Altman, Lancet 1986):
  differences ``d = sum_1 - sum_2`` (mm), mean difference, SD (n - 1), limits
  ``mean +- 1.96 SD``; SD and limits None with n < 2.
* **per reader**: subjects read, subjects adjudicated, adjudications decided, reads endorsed,
  **endorsement rate** = endorsed / decided adjudications of that reader (None before any
  decision), and the **Reader Disagreement Index**
  ``RDI (%) = cases where the adjudicator disagreed with the reader / all cases the reader
  read x 100`` (Sharma M, Bohnsack O, et al. "RDI as a method for reviewer performance
  monitoring in BICR", J Clin Oncol 2019;37(15_suppl):e18082, and "Reader Disagreement Index
  (RDI) as an indicator of reader performance", e18592): a case counts as disagreed when the
  adjudicator endorsed the other reader's read. Unlike the adjudication rate it tells the
  reader who triggers adjudication *and* loses it from the one who wins it.

Values that are undefined are None (``null`` in JSON), never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from readerstation.errors import ModelError
from readerstation.reading.charter import AdjudicationVariable
from readerstation.reading.discrepancy import Comparison

__all__ = [
    "AgreementReport",
    "BlandAltman",
    "CriteriaAgreement",
    "KappaEstimate",
    "PairOutcome",
    "ReaderAgreement",
    "compute_agreement",
    "compute_bland_altman",
    "compute_icc_2_1",
    "compute_kappa",
]

LOA_Z = 1.96
"""Normal quantile of the Bland-Altman 95 % limits of agreement."""


@dataclass(frozen=True, slots=True)
class PairOutcome:
    """One subject's comparison under one criteria, with who read it and what was endorsed.

    Attributes
    ----------
    comparison : Comparison
        The two reads compared (slot 1 and slot 2).
    reader_1, reader_2 : str
        The readers of slot 1 and slot 2 (user names; never shown to the adjudicator).
    endorsed_slot : int or None
        1 or 2 once the adjudicator endorsed a read for this criteria; None otherwise.
    """

    comparison: Comparison
    reader_1: str
    reader_2: str
    endorsed_slot: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.comparison, Comparison):
            raise ModelError(
                f"PairOutcome.comparison: expected a Comparison, received {self.comparison!r}."
            )
        for name in ("reader_1", "reader_2"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ModelError(f"PairOutcome.{name}: expected a user name, received {value!r}.")
        if self.reader_1 == self.reader_2:
            raise ModelError(
                f"PairOutcome: {self.comparison.subject} was read twice by {self.reader_1!r}; the "
                "two reads of a subject come from two different readers."
            )
        slot = self.endorsed_slot
        if slot is not None and (isinstance(slot, bool) or slot not in (1, 2)):
            raise ModelError(
                f"PairOutcome.endorsed_slot: expected 1, 2 or None, received {slot!r}."
            )
        if slot is not None and not self.comparison.needs_adjudication:
            raise ModelError(
                f"PairOutcome.endorsed_slot: {self.comparison.subject} ({self.comparison.criteria}) "
                "needs no adjudication, yet an endorsement is given; leave it None."
            )


@dataclass(frozen=True, slots=True)
class KappaEstimate:
    """Cohen's kappa with its asymptotic 95 % CI; every number None when undefined.

    Attributes
    ----------
    n : int
        Number of rating pairs.
    value, lower, upper : float or None
        Kappa and its 95 % confidence limits.
    categories : tuple of str
        The categories of the square table (union of both readers', sorted).
    table : tuple of tuple of int
        Counts, rows reader 1, columns reader 2, in ``categories`` order.
    """

    n: int
    value: float | None
    lower: float | None
    upper: float | None
    categories: tuple[str, ...] = ()
    table: tuple[tuple[int, ...], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """``{"n", "value", "ci_lower", "ci_upper", "categories", "table"}``."""
        return {
            "n": self.n,
            "value": _r(self.value),
            "ci_lower": _r(self.lower),
            "ci_upper": _r(self.upper),
            "categories": list(self.categories),
            "table": [list(row) for row in self.table],
        }


@dataclass(frozen=True, slots=True)
class BlandAltman:
    """Bland-Altman summary of paired differences (mm)."""

    n: int
    mean_difference: float | None
    sd: float | None
    lower_loa: float | None
    upper_loa: float | None

    def to_dict(self) -> dict[str, Any]:
        """``{"n", "mean_difference", "sd", "lower_loa", "upper_loa"}`` (mm)."""
        return {
            "n": self.n,
            "mean_difference": _r(self.mean_difference),
            "sd": _r(self.sd),
            "lower_loa": _r(self.lower_loa),
            "upper_loa": _r(self.upper_loa),
        }


@dataclass(frozen=True, slots=True)
class ReaderAgreement:
    """One reader's adjudication figures under one criteria."""

    reader: str
    n_subjects: int
    n_adjudicated: int
    n_decided: int
    n_endorsed: int

    @property
    def endorsement_rate(self) -> float | None:
        """Endorsed / decided adjudications (0-1); None before any decision."""
        return None if self.n_decided == 0 else self.n_endorsed / self.n_decided

    @property
    def rdi(self) -> float | None:
        """Reader Disagreement Index (%): adjudications lost / subjects read x 100."""
        if self.n_subjects == 0:
            return None
        return 100.0 * (self.n_decided - self.n_endorsed) / self.n_subjects

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this reader."""
        return {
            "n_subjects": self.n_subjects,
            "n_adjudicated": self.n_adjudicated,
            "n_decided": self.n_decided,
            "n_endorsed": self.n_endorsed,
            "endorsement_rate": _r(self.endorsement_rate),
            "rdi": _r(self.rdi),
        }


@dataclass(frozen=True, slots=True)
class CriteriaAgreement:
    """Agreement figures of one criteria."""

    criteria: str
    n_subjects: int
    n_adjudicated: int
    n_bor_disagreement: int
    kappa_best_response: KappaEstimate
    kappa_timepoint_response: KappaEstimate
    icc_sum_mm: float | None
    n_sum_pairs: int
    bland_altman_sum_mm: BlandAltman
    readers: tuple[ReaderAgreement, ...]
    variable_counts: dict[str, int] = field(default_factory=dict)
    #: (slot-1 sum, slot-2 sum) mm of every matched timepoint: the points of a Bland-Altman plot
    sum_pairs: tuple[tuple[float, float], ...] = field(default=(), repr=False)

    @property
    def adjudication_rate(self) -> float | None:
        """Subjects needing adjudication / subjects compared (0-1)."""
        return None if self.n_subjects == 0 else self.n_adjudicated / self.n_subjects

    @property
    def bor_disagreement_rate(self) -> float | None:
        """Subjects whose confirmed BORs differ / subjects compared (0-1)."""
        return None if self.n_subjects == 0 else self.n_bor_disagreement / self.n_subjects

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this criteria."""
        return {
            "n_subjects": self.n_subjects,
            "n_adjudicated": self.n_adjudicated,
            "adjudication_rate": _r(self.adjudication_rate),
            "bor_disagreement_rate": _r(self.bor_disagreement_rate),
            "variables_differing": dict(self.variable_counts),
            "kappa_best_response": self.kappa_best_response.to_dict(),
            "kappa_timepoint_response": self.kappa_timepoint_response.to_dict(),
            "icc_sum_mm": _r(self.icc_sum_mm),
            "icc_n": self.n_sum_pairs,
            "bland_altman_sum_mm": self.bland_altman_sum_mm.to_dict(),
            "readers": {r.reader: r.to_dict() for r in self.readers},
        }


@dataclass(frozen=True, slots=True)
class AgreementReport:
    """Agreement per criteria (``"recist1.1"``, ``"mrecist"``), in first-seen order."""

    criteria: tuple[CriteriaAgreement, ...]

    def __getitem__(self, name: str) -> CriteriaAgreement:
        for c in self.criteria:
            if c.criteria == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """``{"criteria": {name: {...}}}`` (see the module docstring for each figure)."""
        return {"criteria": {c.criteria: c.to_dict() for c in self.criteria}}

    def __repr__(self) -> str:
        parts = [
            f"{c.criteria}: {c.n_subjects} subjects, adjudicated {_pct(c.adjudication_rate)}, "
            f"kappa BOR {_num(c.kappa_best_response.value)}"
            for c in self.criteria
        ]
        return f"AgreementReport({'; '.join(parts) or 'no subjects'})"

    def to_text(self) -> str:
        """A readable summary for the command line."""
        if not self.criteria:
            return "No subject has two signed reads yet: nothing to compare."
        lines: list[str] = []
        for c in self.criteria:
            k1, k2, ba = c.kappa_best_response, c.kappa_timepoint_response, c.bland_altman_sum_mm
            lines += [
                f"{c.criteria}: {c.n_subjects} subjects with two reads",
                f"  adjudicated            {c.n_adjudicated} ({_pct(c.adjudication_rate)})",
                f"  BOR disagreement       {c.n_bor_disagreement} "
                f"({_pct(c.bor_disagreement_rate)})",
                f"  kappa BOR              {_kappa(k1)}",
                f"  kappa timepoint resp.  {_kappa(k2)}",
                f"  ICC(2,1) sum of diam.  {_num(c.icc_sum_mm)} (n = {c.n_sum_pairs})",
                f"  Bland-Altman sum (mm)  mean {_num(ba.mean_difference, 1)}, limits "
                f"{_num(ba.lower_loa, 1)} to {_num(ba.upper_loa, 1)} (n = {ba.n})",
                "  reader        subjects  adjudicated  decided  endorsed  endorsement  RDI",
            ]
            for r in c.readers:
                lines.append(
                    f"  {r.reader:<12}  {r.n_subjects:>8}  {r.n_adjudicated:>11}  "
                    f"{r.n_decided:>7}  {r.n_endorsed:>8}  {_pct(r.endorsement_rate):>11}  "
                    f"{_num(r.rdi, 1)} %"
                )
        return "\n".join(lines)


# ------------------------------------------------------------------------------- statistics


def _r(x: float | None, digits: int = 4) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), digits)


def _num(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _kappa(k: KappaEstimate) -> str:
    if k.value is None:
        return f"n/a (n = {k.n})"
    return f"{k.value:.2f} (95 % CI {_num(k.lower)} to {_num(k.upper)}, n = {k.n})"


def compute_kappa(pairs: Sequence[tuple[str, str]]) -> KappaEstimate:
    """Cohen's (unweighted) kappa of rating pairs with its 95 % CI.

    Parameters
    ----------
    pairs : sequence of (str, str)
        (reader 1's category, reader 2's category) per rated item.

    Returns
    -------
    KappaEstimate
        Value and limits None with fewer than 2 pairs or when chance agreement is 1.

    Examples
    --------
    >>> k = compute_kappa([("PR", "PR")] * 20 + [("PR", "SD")] * 5 + [("SD", "PR")] * 10
    ...                   + [("SD", "SD")] * 15)
    >>> round(k.value, 3), k.table
    (0.4, ((20, 5), (10, 15)))
    """
    cats = tuple(sorted({c for p in pairs for c in p}))
    index = {c: i for i, c in enumerate(cats)}
    table = np.zeros((len(cats), len(cats)), dtype=np.int64)
    for a, b in pairs:
        table[index[a], index[b]] += 1
    as_tuple = tuple(tuple(int(v) for v in row) for row in table)
    n = len(pairs)
    if n < 2:
        return KappaEstimate(n, None, None, None, cats, as_tuple)
    p = table / n
    p_e = float(np.sum(p.sum(axis=1) * p.sum(axis=0)))
    if p_e >= 1.0 - 1e-12:
        return KappaEstimate(n, None, None, None, cats, as_tuple)
    from statsmodels.stats.inter_rater import cohens_kappa

    res = cohens_kappa(table)
    value, low, upp = float(res["kappa"]), float(res["kappa_low"]), float(res["kappa_upp"])
    # the Wald interval can leave kappa's range [-1, 1] in small samples: clip it
    low, upp = max(low, -1.0), min(upp, 1.0)
    return KappaEstimate(
        n,
        value if math.isfinite(value) else None,
        low if math.isfinite(low) else None,
        upp if math.isfinite(upp) else None,
        cats,
        as_tuple,
    )


def compute_icc_2_1(values: np.ndarray | Sequence[Sequence[float]]) -> float | None:
    """ICC(2,1): two-way random effects, absolute agreement, single rater (Shrout & Fleiss).

    Parameters
    ----------
    values : array_like, shape (n_subjects, k_raters)
        One row per rated item, one column per reader.

    Returns
    -------
    float or None
        None with fewer than 2 rows or 2 columns, or when the denominator is zero.

    Examples
    --------
    >>> round(compute_icc_2_1([[1, 2], [3, 4], [5, 6]]), 4)  # 8 / 9
    0.8889
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2 or not np.all(np.isfinite(x)):
        return None
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * float(np.sum((x.mean(axis=1) - grand) ** 2))
    ss_cols = n * float(np.sum((x.mean(axis=0) - grand) ** 2))
    ss_total = float(np.sum((x - grand) ** 2))
    ss_err = ss_total - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))
    denom = msr + (k - 1) * mse + k * (msc - mse) / n
    if abs(denom) < 1e-12:
        return None
    return (msr - mse) / denom


def compute_bland_altman(pairs: Sequence[tuple[float, float]]) -> BlandAltman:
    """Mean difference, SD and 95 % limits of agreement of ``a - b`` over ``pairs`` (mm).

    Examples
    --------
    >>> compute_bland_altman([(10.0, 8.0), (12.0, 12.0), (20.0, 17.0)]).to_dict()
    {'n': 3, 'mean_difference': 1.6667, 'sd': 1.5275, 'lower_loa': -1.3273, 'upper_loa': 4.6606}
    """
    n = len(pairs)
    if n == 0:
        return BlandAltman(0, None, None, None, None)
    d = np.array([a - b for a, b in pairs], dtype=float)
    mean = float(d.mean())
    if n < 2:
        return BlandAltman(n, mean, None, None, None)
    sd = float(d.std(ddof=1))
    return BlandAltman(n, mean, sd, mean - LOA_Z * sd, mean + LOA_Z * sd)


# ------------------------------------------------------------------------------- report


def _criteria_agreement(name: str, outcomes: list[PairOutcome]) -> CriteriaAgreement:
    bor_pairs: list[tuple[str, str]] = []
    tp_pairs: list[tuple[str, str]] = []
    sums: list[tuple[float, float]] = []
    counts = {v.value: 0 for v in AdjudicationVariable}
    n_bor = 0
    per_reader: dict[str, list[int]] = {}  # subjects, adjudicated, decided, endorsed
    seen: set[str] = set()
    for o in outcomes:
        c = o.comparison
        if c.subject in seen:
            raise ModelError(
                f"compute_agreement: {c.subject} appears twice for {name}; give one outcome per "
                "subject and criteria."
            )
        seen.add(c.subject)
        r1, r2 = c.result_1, c.result_2
        bor_pairs.append((r1.best_overall_response.value, r2.best_overall_response.value))
        if r1.best_overall_response != r2.best_overall_response:
            n_bor += 1
        for v in c.variables:
            counts[v.value] += 1
        for t1, t2 in zip(r1.timepoints, r2.timepoints, strict=False):
            if t1.overall_response is not None and t2.overall_response is not None:
                tp_pairs.append((t1.overall_response.value, t2.overall_response.value))
            if t1.sum_mm is not None and t2.sum_mm is not None:
                sums.append((t1.sum_mm, t2.sum_mm))
        for slot, reader in ((1, o.reader_1), (2, o.reader_2)):
            stats = per_reader.setdefault(reader, [0, 0, 0, 0])
            stats[0] += 1
            if c.needs_adjudication:
                stats[1] += 1
                if o.endorsed_slot is not None:
                    stats[2] += 1
                    stats[3] += int(o.endorsed_slot == slot)
    readers = tuple(
        ReaderAgreement(r, s[0], s[1], s[2], s[3]) for r, s in sorted(per_reader.items())
    )
    return CriteriaAgreement(
        criteria=name,
        n_subjects=len(outcomes),
        n_adjudicated=sum(1 for o in outcomes if o.comparison.needs_adjudication),
        n_bor_disagreement=n_bor,
        kappa_best_response=compute_kappa(bor_pairs),
        kappa_timepoint_response=compute_kappa(tp_pairs),
        icc_sum_mm=compute_icc_2_1(sums) if len(sums) >= 2 else None,
        n_sum_pairs=len(sums),
        bland_altman_sum_mm=compute_bland_altman(sums),
        readers=readers,
        variable_counts=counts,
        sum_pairs=tuple(sums),
    )


def compute_agreement(outcomes: Sequence[PairOutcome]) -> AgreementReport:
    """Agreement and adjudication figures per criteria from compared subjects.

    Parameters
    ----------
    outcomes : sequence of PairOutcome
        One per subject and criteria with two signed reads (with the endorsed slot once
        adjudicated).

    Returns
    -------
    AgreementReport
        One :class:`CriteriaAgreement` per criteria, in first-seen order; empty for no input.

    Raises
    ------
    ModelError
        An item that is not a PairOutcome, or one subject twice under one criteria.
    """
    groups: dict[str, list[PairOutcome]] = {}
    for o in outcomes:
        if not isinstance(o, PairOutcome):
            raise ModelError(f"compute_agreement: expected PairOutcome items, received {o!r}.")
        groups.setdefault(o.comparison.criteria, []).append(o)
    return AgreementReport(tuple(_criteria_agreement(k, v) for k, v in groups.items()))
