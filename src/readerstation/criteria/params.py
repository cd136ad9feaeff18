"""Response criteria as explicit, frozen parameter objects.

Every threshold is a field with its default and its source. Sources cited:

* **RECIST 1.1**: Eisenhauer EA et al. New response evaluation criteria in solid tumours: revised
  RECIST guideline (version 1.1). Eur J Cancer 2009;45:228-247 (sections 3-4, Tables 1-3).
* **RECIST FAQ**: Schwartz LH et al. RECIST 1.1 - Update and clarification: From the RECIST
  committee. Eur J Cancer 2016;62:132-137, and the RECIST working group's published Q&A.
* **mRECIST**: Lencioni R, Llovet JM. Modified RECIST (mRECIST) assessment for hepatocellular
  carcinoma. Semin Liver Dis 2010;30:52-60.
* **FDA 2018**: U.S. FDA. Clinical Trial Endpoints for the Approval of Cancer Drugs and
  Biologics, Guidance for Industry, December 2018 (PFS date of progression/censoring table).
* **admiralonco**: ``derive_param_confirmed_bor()`` (pharmaverse), whose arguments
  ``ref_confirm``, ``max_nr_ne`` and ``ref_start_window`` these fields mirror.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

from readerstation.errors import CriteriaError

__all__ = ["MRecistCriteria", "Recist11Criteria", "ResponseCriteria", "criteria_from_name"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseCriteria:
    """Parameters shared by RECIST 1.1 and mRECIST; use a subclass for the defaults.

    Attributes
    ----------
    pr_decrease_pct : float
        PR when the sum decreases by at least this percentage of the **baseline** sum.
        30 % (RECIST 1.1 section 4.3.1; mRECIST: of the viable sum).
    pd_increase_pct : float
        PD when the sum increases by at least this percentage over the **nadir** (the smallest
        sum among baseline and earlier assessments). 20 % (RECIST 1.1 4.3.1; mRECIST).
    pd_absolute_min_mm : float
        ... and by at least this many mm. 5 mm in RECIST 1.1 (4.3.1); 0 in mRECIST (the 2010
        definition has no absolute minimum).
    too_small_mm : float
        Value of a target "too small to measure" (mm). 5 mm (RECIST 1.1 appendix I).
    node_normal_short_axis_mm : float
        A lymph node whose short axis is below this is normal: target CR allows nodes below it
        (mm). 10 mm (RECIST 1.1 3.1.1 and 4.3.1).
    min_measurable_mm : float
        Smallest baseline longest (mRECIST: viable) diameter of a non-nodal target (mm).
        10 mm (RECIST 1.1 3.1.1 on CT with slices <= 5 mm; mRECIST keeps it).
    min_measurable_node_mm : float
        Smallest baseline short axis of a nodal target (mm). 15 mm (RECIST 1.1 3.1.1).
    porta_hepatis_node_min_mm : float
        Smallest baseline short axis of a porta hepatis node (``organ`` = "porta_hepatis") to be a
        malignant target (mm). RECIST 1.1: the general 15 mm. mRECIST: 20 mm (lymph nodes at the
        porta hepatis are malignant only from 2 cm short axis, as they enlarge in cirrhosis).
    measurable_slice_thickness_factor : float
        A non-nodal target must also be at least this many times the slice thickness of the
        series it is measured on (when the thickness is known). 2 (RECIST 1.1 appendix II: "if
        CT scans have slice thickness greater than 5 mm, the minimum size for a measurable lesion
        should be twice the slice thickness"; with slices <= 5 mm the 10 mm minimum governs).
    target_requires_typical_hcc : bool
        Intrahepatic targets must be typical HCC with intratumoral arterial enhancement
        (``Lesion.typical_hcc`` true). RECIST 1.1: False. mRECIST: True (Lencioni & Llovet 2010:
        targets "show intratumoral arterial enhancement"; atypical lesions are non-targets).
    target_uses_viable_diameter : bool
        Intrahepatic targets are measured, and checked for measurability, by their viable
        (arterially enhancing) long axis. RECIST 1.1: False. mRECIST: True (viable diameter
        >= ``min_measurable_mm``, 10 mm).
    viable_over_long_axis_tolerance_mm : float
        Largest amount (mm) by which a lesion's viable diameter may exceed its long axis before
        the reading-time checks refuse the pair (the viable part lies inside the lesion, so it
        cannot be longer). 1 mm: a drawing tolerance for two hand-drawn lines (each end point
        placed within about half a pixel, 0.6-0.8 mm pixels on liver CT); a project choice, not
        from the published criteria.
    max_targets : int
        Most target lesions in total. 5 (RECIST 1.1 3.3.1).
    max_targets_per_organ : int
        Most target lesions per organ. 2 (RECIST 1.1 3.3.1). All lymph nodes (``nodal`` targets,
        whatever their ``organ``) count as one organ (RECIST 1.1 Q&A, EORTC: "Nodes are
        considered to be one organ"). The liver has its own limit, ``max_intrahepatic_targets``.
    max_intrahepatic_targets : int
        Most targets with ``organ`` = "liver" (used for the liver instead of
        ``max_targets_per_organ``). 2 (RECIST 1.1 per organ; mRECIST: "up to two intrahepatic
        target lesions").
    confirm_days : int
        A CR or PR is confirmed by a later assessment at least this many days after it (date
        difference, inclusive: exactly 28 days confirms). 28 days (RECIST 1.1 4.6: "no less than
        4 weeks"; admiralonco ``ref_confirm``).
    max_ne_between : int
        Most NE assessments allowed between a response and its confirmation. 1 (admiralonco
        ``max_nr_ne`` default; RECIST FAQ: one missing assessment does not break confirmation).
    sd_min_days : int
        SD (and a CR/PR that is not confirmed, counted as SD) counts for the best overall
        response only at an assessment at least this many days after treatment start (inclusive).
        35 days: 6-weekly imaging minus a 7-day window (RECIST 1.1 4.4.1 and Table 3 leave the
        minimum to the protocol; 6-8 weeks is usual).
    dcr_sd_min_days : int or None
        Disease control counts SD (NON-CR/NON-PD) only if the last assessment without
        progression is at least this many days after treatment start. None means
        ``sd_min_days`` (so DCR = CR + PR + SD). Seed trials use 6 months (182 days).
    assessment_interval_days : int
        Scheduled imaging interval (days), used to count missed assessments for PFS. 42 (6-weekly).
    missed_assessments_to_censor : int
        PFS is censored at the last adequate assessment when progression or death follows two or
        more missed assessments. 2 (FDA 2018 PFS table).
    visit_window_days : int
        Tolerance added to the missed-assessment gap (days). 7. Progression or death is counted as
        an event if it is at most ``missed_assessments_to_censor * assessment_interval_days +
        visit_window_days`` days after the last adequate assessment (or treatment start when
        there is none), censored at that assessment otherwise.
    backdate_equivocal_new_lesions : bool
        When a new lesion called equivocal at one or more consecutive assessments is confirmed
        (unequivocal) at the next one, the date of progression is the first equivocal assessment.
        True (RECIST 1.1 4.3.3: "progression should be declared using the date of the initial
        scan").
    confirmed_pr_holds : bool
        After a confirmed PR, later timepoints whose overall response is SD stay PR (RECIST FAQ:
        a sum that rises but does not reach PD after PR remains PR). NE stays NE: a timepoint
        that was not assessed cannot be reported as a response. True.
    reappearance_after_cr_is_pd : bool
        After an overall CR, any target that reappears (non-nodal > 0 mm or node back to
        ``node_normal_short_axis_mm``) or non-target present again is PD (RECIST FAQ). True.
    effusion_requires_cytology : bool
        A non-target or new effusion counts as progression only with cytological proof of
        malignancy (``cytology_confirmed``). RECIST 1.1: False. mRECIST: True.
    new_lesion_requires_typical_hcc : bool
        New intrahepatic lesions given as objects are unequivocal only when typical of HCC
        (arterial hyperenhancement with washout) and at least ``new_lesion_min_mm``, or when an
        equivocal one has grown by at least ``new_lesion_growth_mm`` since first seen.
        RECIST 1.1: False (any new lesion not flagged equivocal is unequivocal). mRECIST: True.
    new_lesion_min_mm : float
        Smallest typical new intrahepatic lesion that is PD (mm). mRECIST: 10 mm ("at least 1 cm").
    new_lesion_growth_mm : float
        Interval growth that confirms an equivocal new intrahepatic lesion (mm). mRECIST: 10 mm
        ("at least 1-cm interval growth").
    require_enhancing_target : bool
        mRECIST: a subject without a typical arterially enhancing target at baseline is NE (all
        timepoints and the best response), while RECIST 1.1 still applies to that subject.
    """

    name: ClassVar[str] = "response criteria"
    pr_decrease_pct: float = 30.0
    pd_increase_pct: float = 20.0
    pd_absolute_min_mm: float = 5.0
    too_small_mm: float = 5.0
    node_normal_short_axis_mm: float = 10.0
    min_measurable_mm: float = 10.0
    min_measurable_node_mm: float = 15.0
    porta_hepatis_node_min_mm: float = 15.0
    measurable_slice_thickness_factor: float = 2.0
    target_requires_typical_hcc: bool = False
    target_uses_viable_diameter: bool = False
    viable_over_long_axis_tolerance_mm: float = 1.0
    max_targets: int = 5
    max_targets_per_organ: int = 2
    max_intrahepatic_targets: int = 2
    confirm_days: int = 28
    max_ne_between: int = 1
    sd_min_days: int = 35
    dcr_sd_min_days: int | None = None
    assessment_interval_days: int = 42
    missed_assessments_to_censor: int = 2
    visit_window_days: int = 7
    backdate_equivocal_new_lesions: bool = True
    confirmed_pr_holds: bool = True
    reappearance_after_cr_is_pd: bool = True
    effusion_requires_cytology: bool = False
    new_lesion_requires_typical_hcc: bool = False
    new_lesion_min_mm: float = 0.0
    new_lesion_growth_mm: float = 0.0
    require_enhancing_target: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or isinstance(value, bool):
                continue
            if not isinstance(value, int | float) or value < 0:
                raise CriteriaError(
                    f"{type(self).__name__}.{f.name}: expected a number >= 0, received "
                    f"{value!r}; pass a non-negative value."
                )
        if self.pr_decrease_pct >= 100:
            raise CriteriaError(
                f"{type(self).__name__}.pr_decrease_pct: expected < 100, received "
                f"{self.pr_decrease_pct!r}."
            )
        if self.max_targets < 1:
            raise CriteriaError(f"{type(self).__name__}.max_targets: expected >= 1, received 0.")

    @property
    def effective_dcr_sd_min_days(self) -> int:
        """``dcr_sd_min_days``, or ``sd_min_days`` when it is None (days)."""
        return self.sd_min_days if self.dcr_sd_min_days is None else self.dcr_sd_min_days

    @property
    def pfs_max_gap_days(self) -> int:
        """Longest gap (days) after the last adequate assessment for an event to still count."""
        return (
            self.missed_assessments_to_censor * self.assessment_interval_days
            + self.visit_window_days
        )

    def with_options(self, **changes: Any) -> ResponseCriteria:
        """A copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True, slots=True, kw_only=True)
class Recist11Criteria(ResponseCriteria):
    """RECIST 1.1 (Eisenhauer et al. 2009) with the defaults documented on
    :class:`ResponseCriteria`: sums of longest diameters, short axis for nodes, PD needs +20 %
    over the nadir and +5 mm.

    Examples
    --------
    >>> Recist11Criteria().pd_absolute_min_mm
    5.0
    >>> Recist11Criteria(confirm_days=30).confirm_days
    30
    """

    name: ClassVar[str] = "RECIST 1.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class MRecistCriteria(ResponseCriteria):
    """mRECIST for HCC (Lencioni & Llovet 2010): sums of viable (arterially enhancing) longest
    diameters; CR = no intratumoral arterial enhancement in any target; PD +20 % over the viable
    nadir with no absolute minimum (``pd_absolute_min_mm`` = 0); at most 2 intrahepatic targets;
    porta hepatis nodes malignant from 20 mm; effusions need cytology; new intrahepatic lesions
    need the typical HCC pattern and >= 1 cm, or >= 1 cm interval growth; intrahepatic targets
    must be typical HCC, measured (and measurable, >= 10 mm) by their viable diameter.

    Examples
    --------
    >>> MRecistCriteria().pd_absolute_min_mm
    0.0
    >>> MRecistCriteria().porta_hepatis_node_min_mm
    20.0
    """

    name: ClassVar[str] = "mRECIST"
    pd_absolute_min_mm: float = 0.0
    porta_hepatis_node_min_mm: float = 20.0
    target_requires_typical_hcc: bool = True
    target_uses_viable_diameter: bool = True
    effusion_requires_cytology: bool = True
    new_lesion_requires_typical_hcc: bool = True
    new_lesion_min_mm: float = 10.0
    new_lesion_growth_mm: float = 10.0
    require_enhancing_target: bool = True


_NAMES: dict[str, type[ResponseCriteria]] = {
    "recist1.1": Recist11Criteria,
    "recist11": Recist11Criteria,
    "recist": Recist11Criteria,
    "mrecist": MRecistCriteria,
}


def criteria_from_name(name: str, **options: Any) -> ResponseCriteria:
    """Build criteria from a CLI name (``"recist1.1"`` or ``"mrecist"``) and optional overrides.

    Options whose value is None keep their default.
    """
    cls = _NAMES.get(name.strip().lower())
    if cls is None:
        raise CriteriaError(
            f"criteria: expected 'recist1.1' or 'mrecist', received {name!r}; pick one of those."
        )
    return cls(**{k: v for k, v in options.items() if v is not None})
