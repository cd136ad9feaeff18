"""Trial level: counts, ORR/DCR with Clopper-Pearson, Kaplan-Meier with R survfit conventions.

Checks against published figures:

* The seed trial table (issue 4): 45 subjects; RECIST 1.1 3 CR, 18 PR, 23 SD (18 lasting 6
  months), 1 PD -> ORR 47 % (one-sided 90 % lower bound 36 %), DCR 87 % (39/45, 95 % CI
  73-95 %); mRECIST 7 CR, 23 PR, 14 SD -> ORR 67 % (>= 56 %), DCR 91 % (41/45, 79-98 %); 33 of
  45 progression-free at 12 months with no censoring before -> 73.3 % (61.5-87.5 %).
* R ``survival`` package datasets as printed by ``print(survfit(...))`` / ``summary(...)``
  (conf.type "log", the default): ``aml`` (Miller 1981) maintained arm median 31 (0.95LCL 18,
  UCL NA), non-maintained median 23 (8, NA); ``lung`` (NCCTG, Loprinzi 1994) median 310 days
  (285, 363) and S(365) = 0.409 (0.345, 0.486). The lung data are lifelines' copy of R's.
* Clopper-Pearson closed forms: x = 0 -> upper = 1 - (alpha/2)^(1/n);
  x = n -> lower = (alpha/2)^(1/n).
"""

from __future__ import annotations

import datetime as dt

import pytest

from readerstation.criteria import MRecistCriteria, Recist11Criteria
from readerstation.engine import (
    DAYS_PER_MONTH,
    Timeline,
    compute_kaplan_meier,
    compute_proportion,
    derive_subject_responses,
    derive_trial_summary,
)

START = dt.date(2022, 1, 10)


def day(n: int) -> str:
    return (START + dt.timedelta(days=n)).isoformat()


def _subject(i, visits, **extra):
    return {
        "subject": f"S{i:02d}",
        "treatment_start": day(0),
        "assessments": [{"date": day(-5)}]
        + [{"date": day(d), "overall_response": r} for d, r in visits],
        **extra,
    }


SIX_WEEKLY = [42 * k for k in range(1, 11)]  # day 42 ... day 420


def seed_trial(n_cr, n_pr, n_sd_long, n_sd_short, n_pd):
    """Response-only trial: SD 'long' lasts to day 210 (>= 6 months), 'short' ends by PD at 126."""
    subjects = []
    groups = [
        (n_cr, [(42, "CR"), (84, "CR"), (126, "CR")]),
        (n_pr, [(42, "PR"), (84, "PR"), (126, "PR"), (168, "PD")]),
        (n_sd_long, [(42, "SD"), (84, "SD"), (126, "SD"), (168, "SD"), (210, "SD"), (252, "PD")]),
        (n_sd_short, [(42, "SD"), (84, "SD"), (126, "PD")]),
        (n_pd, [(42, "PD")]),
    ]
    for count, visits in groups:
        for _ in range(count):
            subjects.append(_subject(len(subjects) + 1, visits))
    return Timeline.from_json({"subjects": subjects})


def test_seed_trial_recist():
    criteria = Recist11Criteria(dcr_sd_min_days=183)  # SD maintained >= 6 months
    tl = seed_trial(3, 18, 18, 5, 1)
    s = derive_trial_summary(derive_subject_responses(tl, criteria), criteria, timeline=tl)
    assert s.n == 45
    assert (s.counts["CR"], s.counts["PR"], s.counts["SD"], s.counts["PD"]) == (3, 18, 23, 1)
    assert s.orr.n == 21 and round(s.orr.proportion * 100) == 47
    assert round(s.orr.ci90_lower * 100) == 36
    assert s.dcr.n == 39 and round(s.dcr.proportion * 100) == 87
    assert [round(x * 100) for x in s.dcr.ci95] == [73, 95]
    # with the default (SD minimum 35 days) DCR is CR + PR + SD = 44
    default = Recist11Criteria()
    assert derive_trial_summary(derive_subject_responses(tl, default), default).dcr.n == 44


def test_seed_trial_mrecist():
    criteria = MRecistCriteria(dcr_sd_min_days=183)
    tl = seed_trial(7, 23, 11, 3, 1)
    s = derive_trial_summary(derive_subject_responses(tl, criteria), criteria, timeline=tl)
    assert (s.counts["CR"], s.counts["PR"], s.counts["SD"]) == (7, 23, 14)
    assert round(s.orr.proportion * 100) == 67 and round(s.orr.ci90_lower * 100) == 56
    assert s.dcr.n == 41 and round(s.dcr.proportion * 100) == 91
    assert [round(x * 100) for x in s.dcr.ci95] == [79, 98]


def test_pfs_landmark_12_months_through_summary():
    # 12 subjects progress at day 126, 33 stay progression-free to day 420 (> 12 months)
    subjects = [_subject(i, [(42, "SD"), (84, "SD"), (126, "PD")]) for i in range(12)]
    subjects += [_subject(12 + i, [(d, "SD") for d in SIX_WEEKLY]) for i in range(33)]
    tl = Timeline.from_json({"subjects": subjects})
    c = Recist11Criteria()
    out = derive_trial_summary(derive_subject_responses(tl, c), c, timeline=tl).to_json()
    rate12 = out["pfs"]["rates"]["12"]
    assert rate12["rate"] == pytest.approx(0.733, abs=5e-4)
    assert rate12["ci95"] == pytest.approx([0.615, 0.875], abs=5e-4)
    assert out["pfs"]["rates"]["24"] == {"rate": None, "ci95": None}  # past follow-up
    assert out["pfs"]["median_months"] is None  # not reached
    assert out["os"] is None  # no survival dates in this timeline


class TestKaplanMeier:
    def test_aml_brookmeyer_crowley(self):
        maintained = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161]
        m_event = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]
        km = compute_kaplan_meier(maintained, [bool(e) for e in m_event])
        assert (km.median, km.median_ci) == (31.0, (18.0, None))
        non = [5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45]
        n_event = [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]
        km = compute_kaplan_meier(non, [bool(e) for e in n_event])
        assert (km.median, km.median_ci) == (23.0, (8.0, None))

    def test_lung_median_and_one_year(self):
        lifelines_datasets = pytest.importorskip("lifelines.datasets")
        lung = lifelines_datasets.load_lung()
        km = compute_kaplan_meier(lung["time"].to_numpy(float), lung["status"].to_numpy() == 1)
        assert (km.median, km.median_ci) == (310.0, (285.0, 363.0))
        s, lo, hi = km.survival_at(365)
        assert (round(s, 3), round(lo, 3), round(hi, 3)) == (0.409, 0.345, 0.486)

    def test_median_midpoint_when_curve_is_exactly_half(self):
        # 4 subjects, events at 10, 20, 30, 40: S = 0.5 on [20, 30) -> R gives median 25
        km = compute_kaplan_meier([10, 20, 30, 40], [True] * 4)
        assert km.median == 25.0

    def test_reverse_km_follow_up(self):
        # deaths at 10 and 30, alive at 20 and 40: reverse KM "events" are 20 and 40:
        # S(20) = 2/3, S(40) = 0 -> median follow-up 40
        km = compute_kaplan_meier([10, 20, 30, 40], [False, True, False, True])
        assert km.median == 40.0

    def test_months_and_log_log_option(self):
        assert DAYS_PER_MONTH == 30.4375
        km = compute_kaplan_meier(
            [100.0] * 12 + [400.0] * 33, [True] * 12 + [False] * 33, conf_type="log-log"
        )
        s, lo, hi = km.survival_at(365.25)
        # log-log interval by hand: S = 33/45, var(log S) = 1/33 - 1/45 = 0.0080808,
        # se/|log S| = 0.089893/0.31015 = 0.28984, S ** exp(+-1.96 * 0.28984) = 0.578, 0.839
        assert (round(s, 3), round(lo, 3), round(hi, 3)) == (0.733, 0.578, 0.839)
        # lifelines' own band is this exponential-Greenwood (log-log) one
        from lifelines import KaplanMeierFitter

        kmf = KaplanMeierFitter().fit([100.0] * 12 + [400.0] * 33, [True] * 12 + [False] * 33)
        band = kmf.confidence_interval_.loc[100.0].to_numpy()
        assert band == pytest.approx([lo, hi], abs=1e-6)


class TestProportion:
    def test_clopper_pearson_closed_forms(self):
        r = compute_proportion(0, 10)
        assert r.ci95[0] == 0.0 and r.ci95[1] == pytest.approx(1 - 0.025**0.1, abs=1e-9)
        r = compute_proportion(10, 10)
        assert r.ci95[1] == 1.0 and r.ci95[0] == pytest.approx(0.025**0.1, abs=1e-9)
        assert r.ci90_lower == pytest.approx(0.1**0.1, abs=1e-9)

    def test_empty(self):
        assert compute_proportion(0, 0).proportion is None


def test_ttr_dor_and_follow_up():
    # A: PR day 42 (confirmed), PD day 142 -> TTR 42, DOR 100 (event); death day 400
    # B: PR day 84 ... PD day 284 -> TTR 84, DOR 200 (event); alive day 500
    # C: PR day 126 ... PR day 426, no PD -> TTR 126, DOR 300 censored; alive day 600
    a = _subject(1, [(42, "PR"), (84, "PR"), (142, "PD")], death_date=day(400))
    b = _subject(
        2,
        [(84, "PR"), (126, "PR"), (168, "PR"), (210, "PR"), (252, "PR"), (284, "PD")],
        last_known_alive=day(500),
    )
    c = _subject(3, [(d, "PR") for d in (126, 168, 210, 252, 294, 336, 378, 426)],
                 last_known_alive=day(600))  # fmt: skip
    tl = Timeline.from_json({"subjects": [a, b, c]})
    crit = Recist11Criteria()
    res = derive_subject_responses(tl, crit)
    assert [r.duration_of_response_days for r in res] == [100, 200, 300]
    assert [r.dor_event for r in res] == [True, True, False]
    out = derive_trial_summary(res, crit, timeline=tl).to_json()
    m = lambda days: round(days / 30.4375, 2)  # noqa: E731
    # TTR 42, 84, 126: median 84, quartiles 63 and 105 (linear interpolation)
    assert out["ttr"]["median_months"] == m(84)
    assert out["ttr"]["iqr_months"] == [m(63), m(105)]
    # DOR KM: S(100) = 2/3, S(200) = 1/3 -> median 200, first quartile 100, third not reached
    assert out["dor"]["median_months"] == m(200)
    assert out["dor"]["iqr_months"] == [m(100), None]
    # reverse KM: "events" (alive) at 500 and 600, death at 400 censored: S(500) = 0.5 exactly
    # until 600 -> R's midpoint rule gives 550 days
    assert out["follow_up"]["median_months"] == m(550)


def test_rate_is_zero_once_every_subject_had_the_event():
    # 3 subjects progress at days 100, 200, 300: S = 0 from day 300. The 12-month rate is 0
    # (known), not "past follow-up"; its CI is undefined (R gives NA)
    km = compute_kaplan_meier([100, 200, 300], [True, True, True])
    assert km.survival_at(365.25) == (0.0, None, None)
    out = km.to_json()
    assert out["rates"]["12"] == {"rate": 0.0, "ci95": None}
    # censored last: S stays 1/3 but unknown beyond day 300 -> null
    km = compute_kaplan_meier([100, 200, 300], [True, True, False])
    assert km.survival_at(365.25) is None


def test_spider_lines_start_at_baseline_zero():
    # a spider plot shows % change from baseline: every line starts at 0 % at the baseline scan
    from readerstation.engine.plots import plot_spider

    visits = [(-5, 50.0), (42, 40.0), (84, 30.0)]
    assessments = [
        {"date": day(d), "targets": [{"lesion": "T1", "organ": "liver", "diameter_mm": v}]}
        for d, v in visits
    ]
    tl = Timeline.from_json(
        {"subjects": [{"subject": "S01", "treatment_start": day(0), "assessments": assessments}]}
    )
    fig = plot_spider(derive_subject_responses(tl, Recist11Criteria()))
    (line,) = [
        ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) > 1 and ln.get_marker() == "o"
    ]
    assert list(line.get_ydata()) == pytest.approx([0.0, -20.0, -40.0])
    assert list(line.get_xdata()) == pytest.approx([-5 / 7, 6.0, 12.0])
