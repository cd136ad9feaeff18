"""A simulated two-reader trial (45 subjects) whose discrepancies are known by design.

:func:`derive_dual_trial` builds both readers' signed reads of 45 subjects (``SIM-001`` ...) in
the reads JSON format (:mod:`readerstation.model.reads_json`), readers ``reader1`` and
``reader2``, and states for every subject and criteria which adjudication variables differ and
which measurement-level causes were built in. The expectation comes from the design (the case
table below), never from :func:`~readerstation.reading.discrepancy.compare_reads`, so the tests
can check the comparison against it.

Every subject has 4-6 timepoints 42 days apart (baseline ``TP0`` first), treatment starting 3
days after baseline, two liver target lesions (or one liver and one lung target) with viable
(arterially enhancing) diameters so that mRECIST is evaluable, and a lymph-node non-target. All
targets of a subject follow one growth curve, and every liver target's viable diameter is the
same fraction of its long axis, so the sums change by the same percentage under RECIST 1.1 and
mRECIST and every designed case holds for both. Growth curves keep clear margins from the
response thresholds (-30 % for PR, +20 % over the nadir for PD), larger than the measurement
noise, so noise alone never changes a response.

Cases (``DesignedCase.case``), about 40 % of subjects discordant as in published BICR
(Ford et al., J Clin Trials 2016: 42 % adjudicated):

=================  ==========================================  ==============================
case               design                                      variables that differ
=================  ==========================================  ==============================
exact              reader 2's read is reader 1's               none
noise              reader 2 measures each diameter +-1.5 mm     none
new_lesion_tp1     one reader sees a new lesion at TP1, the    BOR, PD date, timepoint resp.
                   other never (stable disease otherwise)
new_lesion_late    one reader sees it at TP k >= 2, the other   PD date, timepoint resp.
                   one visit later
new_lesion_missed  one reader sees it at TP k >= 2, the other   PD date, timepoint resp.
                   never
target_choice      the readers pick a different liver target   BOR, response date, tp resp.
                   (a responding vs a stable lesion)
pd_one_visit       one reader's sum crosses +20 % at TP2, the  PD date, timepoint resp.
                   other's at TP3
nt_progression     one reader calls unequivocal non-target     PD date, timepoint resp.
                   progression from TP k (k = 1: BOR too)      (+ BOR when k = 1)
response_one_visit one reader's sum reaches -30 % at TP1, the  response date, timepoint resp.
                   other's at TP2
=================  ==========================================  ==============================

Which reader makes the deviating call is drawn per subject. Reader 2's measurements carry the
noise in every case but ``exact``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from readerstation.errors import SampleDataError
from readerstation.model.entities import TimepointRead
from readerstation.reading.charter import AdjudicationVariable, Charter, DiscrepancyCause
from readerstation.sample.writer import derive_uid

__all__ = [
    "CASE_COUNTS",
    "DesignedCase",
    "DualTrial",
    "ExpectedDiscrepancy",
    "derive_dual_trial",
]

READERS = ("reader1", "reader2")
"""User names of the two simulated readers (slot 1, slot 2)."""
CRITERIA = ("recist1.1", "mrecist")
INTERVAL_DAYS = 42
"""Days between timepoints."""
TREATMENT_DELAY_DAYS = 3
"""Treatment starts this many days after the baseline scan."""
NOISE_MM = 1.5
"""Largest measurement noise (mm) of reader 2 on each diameter."""
FIRST_BASELINE = dt.date(2024, 1, 8)
"""Baseline of the first enrolled subject; the others enrol over the following 9 months."""

_V = AdjudicationVariable
_C = DiscrepancyCause
_ALL = frozenset(_V)

CASE_COUNTS: Mapping[str, int] = {
    "exact": 12,
    "noise": 15,
    "new_lesion_tp1": 3,
    "new_lesion_late": 2,
    "new_lesion_missed": 1,
    "target_choice": 3,
    "pd_one_visit": 3,
    "nt_progression": 3,
    "response_one_visit": 3,
}
"""How many subjects of each case (45 in all; 18 discordant)."""


@dataclass(frozen=True, slots=True)
class ExpectedDiscrepancy:
    """What the design makes differ for one subject and criteria.

    Attributes
    ----------
    variables : frozenset of AdjudicationVariable
        Every variable that differs (all four, whether or not a charter compares them).
    causes : frozenset of DiscrepancyCause
        The measurement-level causes built in.
    """

    variables: frozenset[AdjudicationVariable] = frozenset()
    causes: frozenset[DiscrepancyCause] = frozenset()

    def for_charter(self, charter: Charter) -> tuple[AdjudicationVariable, ...]:
        """The differing variables the charter compares, in the charter's order."""
        return tuple(v for v in charter.variables if v in self.variables)


@dataclass(frozen=True, slots=True)
class DesignedCase:
    """One subject's design.

    Attributes
    ----------
    subject : str
        Trial code.
    case : str
        A key of :data:`CASE_COUNTS`.
    n_timepoints : int
        4-6, baseline included.
    deviating_reader : str or None
        The reader who makes the different call (None for ``exact`` and ``noise``).
    timepoint : str or None
        Where the designed difference starts (``"TP2"``), None for ``exact``/``noise`` and for
        ``target_choice`` (baseline).
    trajectory : str
        The targets' growth curve: ``stable``, ``response``, ``progression``,
        ``response_then_progression``.
    """

    subject: str
    case: str
    n_timepoints: int
    deviating_reader: str | None
    timepoint: str | None
    trajectory: str


@dataclass(frozen=True)
class DualTrial:
    """The simulated trial: reads, design and expected discrepancies.

    Attributes
    ----------
    seed : int
    reads_json : dict
        Both readers' reads of every subject in the reads JSON format.
    cases : tuple of DesignedCase
        One per subject, in subject order.
    expected : mapping
        ``(subject, criteria) -> ExpectedDiscrepancy`` for criteria ``"recist1.1"`` and
        ``"mrecist"``.
    """

    seed: int
    reads_json: dict[str, Any]
    cases: tuple[DesignedCase, ...]
    expected: Mapping[tuple[str, str], ExpectedDiscrepancy] = field(repr=False)

    def __repr__(self) -> str:
        n = len(self.cases)
        disc = sum(1 for c in self.cases if c.deviating_reader is not None)
        return f"DualTrial(seed={self.seed}, {n} subjects, {disc} discordant by design)"

    @property
    def subjects(self) -> tuple[str, ...]:
        """Subject codes in order."""
        return tuple(c.subject for c in self.cases)

    def to_reads(self) -> list[TimepointRead]:
        """Every read as a signed :class:`TimepointRead` (signed 2025-01-01T00:00Z)."""
        from readerstation.model.reads_json import reads_from_json

        return reads_from_json(self.reads_json, signed_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))

    def reads_by_reader(self) -> dict[tuple[str, str], list[TimepointRead]]:
        """``(subject, reader) -> reads``."""
        out: dict[tuple[str, str], list[TimepointRead]] = {}
        for r in self.to_reads():
            out.setdefault((r.subject.code, r.reader), []).append(r)
        return out


# ---------------------------------------------------------------------------------- design


@dataclass
class _Target:
    label: str
    organ: str
    segment: str | None
    long_mm: float
    viable_ratio: float | None  # liver lesions: viable / long
    scale: list[float]  # per timepoint, 1.0 at baseline


@dataclass
class _NonTarget:
    label: str
    organ: str
    segment: str | None
    nodal: bool
    statuses: list[str]


@dataclass
class _NewLesion:
    label: str
    organ: str
    segment: str | None
    first_tp: int
    long_mm: float  # at first_tp; +2 mm per later visit


@dataclass
class _ReaderPlan:
    targets: list[_Target]
    non_targets: list[_NonTarget]
    new: list[_NewLesion] = field(default_factory=list)


def _curve(rng: np.random.Generator, kind: str, n: int) -> list[float]:
    """Target scale per timepoint (1.0 at baseline) with margins from every threshold."""
    f = [1.0]
    u = rng.uniform
    if kind == "stable":
        f += [float(u(0.95, 1.02)) for _ in range(n - 1)]
    elif kind == "response":
        f.append(float(u(0.5, 0.6)))
        while len(f) < n:
            f.append(f[-1] * float(u(0.93, 1.0)))
    elif kind == "progression":
        f.append(float(u(0.95, 1.0)))
        f.append(f[1] * float(u(1.35, 1.5)))
        while len(f) < n:
            f.append(f[-1] * float(u(1.0, 1.1)))
    elif kind == "response_then_progression":
        f.append(float(u(0.5, 0.6)))
        f.append(f[1] * float(u(0.93, 1.0)))
        f.append(f[2] * float(u(1.4, 1.6)))
        while len(f) < n:
            f.append(f[-1] * float(u(1.0, 1.1)))
    else:  # pragma: no cover - internal
        raise SampleDataError(f"unknown trajectory {kind!r}")
    return f[:n]


_SEGMENTS_OK = ("II", "III", "IV", "V", "VI", "VII", "VIII")


def _segment(rng: np.random.Generator, avoid: set[str]) -> str:
    choices = [s for s in _SEGMENTS_OK if s not in avoid]
    seg = str(rng.choice(choices))
    avoid.add(seg)
    return seg


def _base_plan(rng: np.random.Generator, trajectory: str, n: int) -> _ReaderPlan:
    curve = _curve(rng, trajectory, n)
    ratio = float(rng.uniform(0.75, 0.9))
    used: set[str] = set()
    targets = [
        _Target("T1", "liver", _segment(rng, used), float(rng.uniform(45, 60)), ratio, curve),
    ]
    if rng.random() < 0.5:
        targets.append(
            _Target("T2", "liver", _segment(rng, used), float(rng.uniform(45, 58)), ratio, curve)
        )
    else:
        targets.append(_Target("T2", "lung", None, float(rng.uniform(30, 40)), None, curve))
    nts = [_NonTarget("NT1", "lymph_node", None, True, ["present"] * n)]
    if rng.random() < 0.4:
        nts.append(_NonTarget("NT2", "lung", None, False, ["present"] * n))
    return _ReaderPlan(targets, nts)


def _copy(plan: _ReaderPlan) -> _ReaderPlan:
    return _ReaderPlan(
        [
            _Target(t.label, t.organ, t.segment, t.long_mm, t.viable_ratio, list(t.scale))
            for t in plan.targets
        ],
        [
            _NonTarget(x.label, x.organ, x.segment, x.nodal, list(x.statuses))
            for x in plan.non_targets
        ],
        [_NewLesion(x.label, x.organ, x.segment, x.first_tp, x.long_mm) for x in plan.new],
    )


def _new_lesion(rng: np.random.Generator, plan: _ReaderPlan, first_tp: int) -> _NewLesion:
    if rng.random() < 0.5:
        used = {t.segment for t in plan.targets if t.segment}
        seg = _segment(rng, {s for s in used if s is not None})
        return _NewLesion("NL1", "liver", seg, first_tp, float(rng.uniform(15, 20)))
    return _NewLesion("NL1", "lung", None, first_tp, float(rng.uniform(11, 15)))


def _design_subject(
    rng: np.random.Generator, code: str, case: str, n: int, variant: int
) -> tuple[DesignedCase, dict[str, _ReaderPlan], ExpectedDiscrepancy]:
    dev = READERS[int(rng.integers(0, 2))]
    ref = READERS[1] if dev == READERS[0] else READERS[0]
    tp: int | None = None
    trajectory = "stable"
    if case in ("exact", "noise"):
        trajectory = str(
            rng.choice(["stable", "response", "progression", "response_then_progression"])
        )
        plan = _base_plan(rng, trajectory, n)
        plans = {READERS[0]: plan, READERS[1]: _copy(plan)}
        return DesignedCase(code, case, n, None, None, trajectory), plans, ExpectedDiscrepancy()

    if case.startswith("new_lesion"):
        plan = _base_plan(rng, "stable", n)
        other = _copy(plan)
        if case == "new_lesion_tp1":
            tp = 1
            nl = _new_lesion(rng, plan, tp)
            plan.new.append(nl)
            variables = {_V.BEST_OVERALL_RESPONSE, _V.PROGRESSION_DATE, _V.TIMEPOINT_RESPONSE}
        elif case == "new_lesion_late":
            tp = int(rng.integers(2, n - 1))  # the other reader sees it at tp + 1 <= n - 1
            nl = _new_lesion(rng, plan, tp)
            plan.new.append(nl)
            other.new.append(_NewLesion(nl.label, nl.organ, nl.segment, tp + 1, nl.long_mm + 2.0))
            variables = {_V.PROGRESSION_DATE, _V.TIMEPOINT_RESPONSE}
        else:  # new_lesion_missed
            tp = int(rng.integers(2, n))
            plan.new.append(_new_lesion(rng, plan, tp))
            variables = {_V.PROGRESSION_DATE, _V.TIMEPOINT_RESPONSE}
        causes = {_C.NEW_LESION_CALL}
        plans = {dev: plan, ref: other}

    elif case == "target_choice":
        trajectory = "response"
        curve = _curve(rng, "response", n)
        stable = [1.0] + [float(rng.uniform(0.97, 1.03)) for _ in range(n - 1)]
        ratio = float(rng.uniform(0.75, 0.9))
        used: set[str] = set()
        seg_a, seg_c = _segment(rng, used), _segment(rng, used)
        a_mm, c_mm = float(rng.uniform(30, 36)), float(rng.uniform(64, 70))
        lung = _Target("T2", "lung", None, float(rng.uniform(22, 30)), None, curve)
        node = _NonTarget("NT1", "lymph_node", None, True, ["present"] * n)
        # the deviating reader picks the responding liver lesion A, the other the stable C
        plan = _ReaderPlan(
            [_Target("T1", "liver", seg_a, a_mm, ratio, curve), lung],
            [node, _NonTarget("NT2", "liver", seg_c, False, ["present"] * n)],
        )
        other = _ReaderPlan(
            [
                _Target("T1", "liver", seg_c, c_mm, ratio, stable),
                _Target(lung.label, lung.organ, None, lung.long_mm, None, list(curve)),
            ],
            [
                _NonTarget("NT1", "lymph_node", None, True, ["present"] * n),
                _NonTarget("NT2", "liver", seg_a, False, ["present"] * n),
            ],
        )
        plans = {dev: plan, ref: other}
        variables = {_V.BEST_OVERALL_RESPONSE, _V.RESPONSE_DATE, _V.TIMEPOINT_RESPONSE}
        causes = {_C.TARGET_SELECTION}
        tp = 0

    elif case == "pd_one_visit":
        trajectory = "progression"
        plan = _base_plan(rng, "stable", n)
        f1 = plan.targets[0].scale[1]
        early = [1.0, f1, f1 * float(rng.uniform(1.3, 1.4))]
        late = [1.0, f1, f1 * float(rng.uniform(1.03, 1.06))]
        common = f1 * float(rng.uniform(1.45, 1.6))
        rest = [common]
        while len(rest) < n - 3:
            rest.append(rest[-1] * float(rng.uniform(1.0, 1.1)))
        other = _copy(plan)
        for t in plan.targets:
            t.scale = (early + rest)[:n]
        for t in other.targets:
            t.scale = (late + rest)[:n]
        plans = {dev: plan, ref: other}
        variables = {_V.PROGRESSION_DATE, _V.TIMEPOINT_RESPONSE}
        causes = {_C.SUM_DIFFERENCE}
        tp = 2

    elif case == "nt_progression":
        plan = _base_plan(rng, "stable", n)
        other = _copy(plan)
        # the first subject of this case calls it at TP1 (BOR differs), the others later
        tp = 1 if variant == 0 else int(rng.integers(2, n))
        for k in range(tp, n):
            plan.non_targets[0].statuses[k] = "unequivocal_progression"
        plans = {dev: plan, ref: other}
        variables = {_V.PROGRESSION_DATE, _V.TIMEPOINT_RESPONSE}
        if tp == 1:
            variables.add(_V.BEST_OVERALL_RESPONSE)
        causes = {_C.NON_TARGET_CALL}

    elif case == "response_one_visit":
        trajectory = "response"
        plan = _base_plan(rng, "stable", n)
        f2 = float(rng.uniform(0.48, 0.55))
        rest = [f2]
        while len(rest) < n - 2:
            rest.append(rest[-1] * float(rng.uniform(0.93, 1.0)))
        other = _copy(plan)
        for t in plan.targets:
            t.scale = [1.0, float(rng.uniform(0.55, 0.62)), *rest][:n]
        f1_late = float(rng.uniform(0.8, 0.85))
        for t in other.targets:
            t.scale = [1.0, f1_late, *rest][:n]
        plans = {dev: plan, ref: other}
        variables = {_V.RESPONSE_DATE, _V.TIMEPOINT_RESPONSE}
        causes = {_C.SUM_DIFFERENCE}
        tp = 1
    else:  # pragma: no cover - internal
        raise SampleDataError(f"unknown case {case!r}")
    label = None if tp is None else f"TP{tp}"
    return (
        DesignedCase(code, case, n, dev, label, trajectory),
        plans,
        ExpectedDiscrepancy(frozenset(variables), frozenset(causes)),
    )


# ---------------------------------------------------------------------------------- reads


def _mm(x: float) -> float:
    return round(float(x), 1)


def _timepoints_json(
    rng: np.random.Generator,
    code: str,
    plan: _ReaderPlan,
    dates: list[dt.date],
    noisy: bool,
) -> list[dict[str, Any]]:
    def noise() -> float:
        return float(rng.uniform(-NOISE_MM, NOISE_MM)) if noisy else 0.0

    out: list[dict[str, Any]] = []
    for k, date in enumerate(dates):
        lesions: list[dict[str, Any]] = []
        for t in plan.targets:
            long_mm = _mm(t.long_mm * t.scale[k] + noise())
            item: dict[str, Any] = {
                "lesion": t.label,
                "role": "target",
                "organ": t.organ,
                "nodal": False,
                "long_axis_mm": long_mm,
                "short_axis_mm": None,
                "viable_long_axis_mm": None,
                "state": "measured",
            }
            if t.viable_ratio is not None:
                item["viable_long_axis_mm"] = min(
                    long_mm, _mm(t.long_mm * t.scale[k] * t.viable_ratio + noise())
                )
                item["liver_segment"] = t.segment
                item["typical_hcc"] = True
            lesions.append(item)
        call = "none"
        for nl in plan.new:
            if k < nl.first_tp:
                continue
            call = "unequivocal"
            long_mm = _mm(nl.long_mm + 2.0 * (k - nl.first_tp) + noise())
            item = {
                "lesion": nl.label,
                "role": "new",
                "organ": nl.organ,
                "nodal": False,
                "long_axis_mm": long_mm,
                "short_axis_mm": None,
                "viable_long_axis_mm": None,
                "state": "measured",
            }
            if nl.organ == "liver":
                item["viable_long_axis_mm"] = _mm(long_mm * 0.85)
                item["liver_segment"] = nl.segment
                item["typical_hcc"] = True
            lesions.append(item)
        non_targets: list[dict[str, Any]] = []
        for x in plan.non_targets:
            nt: dict[str, Any] = {"lesion": x.label, "status": x.statuses[k], "organ": x.organ}
            if x.nodal:
                nt["nodal"] = True
            if x.segment is not None:
                nt["liver_segment"] = x.segment
            non_targets.append(nt)
        out.append(
            {
                "label": f"TP{k}",
                "date": date.isoformat(),
                "series_uid": derive_uid("dual-trial", code, f"TP{k}", "arterial"),
                "lesions": lesions,
                "non_targets": non_targets,
                "new_lesions": call,
                "study_uid": derive_uid("dual-trial", code, f"TP{k}"),
                "phase": "arterial",
            }
        )
    return out


def derive_dual_trial(seed: int = 0) -> DualTrial:
    """Build the simulated two-reader trial (deterministic for a seed).

    Parameters
    ----------
    seed : int
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same trial.

    Returns
    -------
    DualTrial
        45 subjects ``SIM-001`` ... ``SIM-045`` read by ``reader1`` and ``reader2``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SampleDataError(
            f"derive_dual_trial: seed: expected an integer >= 0, received {seed!r}."
        )
    rng = np.random.default_rng(seed)
    cases = [name for name, count in CASE_COUNTS.items() for _ in range(count)]
    order = rng.permutation(len(cases))
    seen: dict[str, int] = {}
    designed: list[DesignedCase] = []
    expected: dict[tuple[str, str], ExpectedDiscrepancy] = {}
    reads: list[dict[str, Any]] = []
    for i, idx in enumerate(order):
        code = f"SIM-{i + 1:03d}"
        case = cases[int(idx)]
        n = int(rng.integers(4, 7))
        dcase, plans, exp = _design_subject(rng, code, case, n, seen.get(case, 0))
        seen[case] = seen.get(case, 0) + 1
        designed.append(dcase)
        for crit in CRITERIA:
            expected[(code, crit)] = exp
        baseline = FIRST_BASELINE + dt.timedelta(days=int(rng.integers(0, 270)))
        dates = [baseline + dt.timedelta(days=INTERVAL_DAYS * k) for k in range(n)]
        start = baseline + dt.timedelta(days=TREATMENT_DELAY_DAYS)
        for reader in READERS:
            noisy = reader == READERS[1] and case != "exact"
            reads.append(
                {
                    "subject": code,
                    "reader": reader,
                    "treatment_start": start.isoformat(),
                    "timepoints": _timepoints_json(rng, code, plans[reader], dates, noisy),
                }
            )
    return DualTrial(seed, {"reads": reads}, tuple(designed), expected)
