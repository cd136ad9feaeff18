"""Contrast phase inference: words, bolus timing, acquisition order, arterial proposal."""

from __future__ import annotations

from pathlib import Path

import pytest

from readerstation.dicom import (
    Phase,
    PhaseCriteria,
    PhaseEvidence,
    SeriesInfo,
    compute_phase_from_description,
    compute_phase_from_timing,
    derive_study_phases,
    parse_dicom_time,
    propose_arterial,
)
from readerstation.errors import DicomError


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("ABD ART 2.5mm", Phase.ARTERIAL),
        ("Liver late arterial", Phase.ARTERIAL),
        ("ARTERIAL PHASE", Phase.ARTERIAL),
        ("LAP 1.25", Phase.ARTERIAL),
        ("PV 5.0 B30f", Phase.PORTAL_VENOUS),
        ("Portal venous", Phase.PORTAL_VENOUS),
        ("venous phase", Phase.PORTAL_VENOUS),
        ("DELAY 3 min", Phase.DELAYED),
        ("Equilibrium phase", Phase.DELAYED),
        ("late 5min", Phase.DELAYED),
        ("PRE", Phase.NON_CONTRAST),
        ("Non-contrast abdomen", Phase.NON_CONTRAST),
        ("noncontrast", Phase.NON_CONTRAST),
        ("unenhanced", Phase.NON_CONTRAST),
        ("CT Body 3.0", Phase.UNKNOWN),
        ("", Phase.UNKNOWN),
        ("t1_fl2d_sag", Phase.UNKNOWN),
    ],
)
def test_phase_from_description_words(description: str, expected: Phase) -> None:
    assert compute_phase_from_description(description) is expected


def test_parse_dicom_time_hand_computed() -> None:
    # 14:03:52.457 = 14*3600 + 3*60 + 52.457 s after midnight
    assert parse_dicom_time("140352.457") == pytest.approx(50632.457)
    assert parse_dicom_time("14:03:52") == pytest.approx(50632.0)
    assert parse_dicom_time("1403") == pytest.approx(50580.0)
    assert parse_dicom_time("") is None
    assert parse_dicom_time("25xx") is None
    assert parse_dicom_time("256000") is None  # hour 25 is not a time


def test_phase_from_timing_of_the_real_abdomen_ct() -> None:
    # ct_abdomen_jpeg2000 headers: ContrastBolusStartTime 140216.694022, first AcquisitionTime
    # 140352.457000 -> 95.763 s after the bolus: portal venous by the default windows (50-120 s).
    start = parse_dicom_time("140216.694022")
    acq = parse_dicom_time("140352.457000")
    assert start is not None and acq is not None
    assert acq - start == pytest.approx(95.763, abs=1e-3)
    assert compute_phase_from_timing(start, acq) is Phase.PORTAL_VENOUS
    strict = PhaseCriteria(arterial_max_s=100.0, portal_venous_max_s=200.0)
    assert compute_phase_from_timing(start, acq, strict) is Phase.ARTERIAL


@pytest.mark.parametrize(
    ("delay_s", "expected"),
    [
        (-5, Phase.NON_CONTRAST),
        (20, Phase.ARTERIAL),
        (49.9, Phase.ARTERIAL),
        (50, Phase.PORTAL_VENOUS),
        (119.9, Phase.PORTAL_VENOUS),
        (180, Phase.DELAYED),
    ],
)
def test_phase_timing_windows(delay_s: float, expected: Phase) -> None:
    assert compute_phase_from_timing(1000.0, 1000.0 + delay_s) is expected


def test_timing_across_midnight() -> None:
    # bolus 23:59:30, acquisition 00:00:05 -> 35 s later: arterial
    assert compute_phase_from_timing(86370.0, 5.0) is Phase.ARTERIAL


def test_phase_criteria_refuses_bad_windows() -> None:
    with pytest.raises(DicomError, match="arterial_max_s"):
        PhaseCriteria(arterial_max_s=90, portal_venous_max_s=60)
    with pytest.raises(DicomError, match="bad pattern"):
        PhaseCriteria(words=((Phase.ARTERIAL, "([unclosed"),))


def _ev(
    key: str,
    t: float | None,
    agent: str | None = "IOMERON",
    desc: str = "Abdomen",
    study: str = "S1",
    start: float | None = None,
) -> PhaseEvidence:
    return PhaseEvidence(
        key=key,
        study_uid=study,
        description=desc,
        contrast_agent=agent,
        bolus_start_s=start,
        acquisition_s=t,
    )


def test_acquisition_order_assigns_arterial_portal_delayed() -> None:
    phases = derive_study_phases(
        [
            _ev("pre", 1000.0, agent=None),
            _ev("c3", 1300.0),
            _ev("c1", 1100.0),
            _ev("c1_thin", 1102.0),  # thin reconstruction of the same acquisition (2 s later)
            _ev("c2", 1160.0),
        ]
    )
    assert phases["pre"][0] is Phase.NON_CONTRAST
    assert phases["c1"][0] is Phase.ARTERIAL
    assert phases["c1_thin"][0] is Phase.ARTERIAL
    assert phases["c2"][0] is Phase.PORTAL_VENOUS
    assert phases["c3"][0] is Phase.DELAYED
    assert "order" in phases["c2"][1] or "acquisition" in phases["c2"][1]


def test_order_not_used_when_one_contrast_series_is_known_or_times_missing() -> None:
    phases = derive_study_phases([_ev("a", 1000.0, desc="PV"), _ev("b", 1100.0)])
    assert phases["a"][0] is Phase.PORTAL_VENOUS
    assert phases["b"][0] is Phase.UNKNOWN  # no guessing around a known phase
    phases = derive_study_phases([_ev("a", None), _ev("b", 1100.0)])
    assert phases["a"][0] is Phase.UNKNOWN and phases["b"][0] is Phase.UNKNOWN
    phases = derive_study_phases([_ev("only", 1000.0)])
    assert phases["only"][0] is Phase.UNKNOWN  # one contrast acquisition: not enough to order


def test_words_beat_timing_and_non_images_stay_unknown() -> None:
    phases = derive_study_phases(
        [
            _ev("a", 1040.0, desc="Arterial", start=1000.0),
            _ev("t", 1200.0, start=1000.0),
            PhaseEvidence("sr", "S1", "arterial report", None, None, None, is_image=False),
        ]
    )
    assert phases["a"][0] is Phase.ARTERIAL
    assert phases["t"][0] is Phase.DELAYED  # 200 s after the bolus
    assert phases["sr"][0] is Phase.UNKNOWN


def _info(
    uid: str,
    phase: Phase,
    study: str = "S",
    thick: float | None = 1.0,
    n: int = 10,
    is_image: bool = True,
) -> SeriesInfo:
    return SeriesInfo(
        series_uid=uid,
        study_uid=study,
        modality="CT",
        description=uid,
        phase=phase,
        n_images=n,
        rows=8,
        columns=8,
        pixel_spacing_mm=(1.0, 1.0),
        slice_thickness_mm=thick,
        orientation=(1, 0, 0, 0, 1, 0),
        files=(Path(f"{uid}.dcm"),),
        is_image=is_image,
        frame_of_reference_uid=None,
        series_number=None,
        study_date=None,
        acquisition_time=None,
        contrast_agent=None,
        warnings=(),
    )


def test_propose_arterial() -> None:
    art = _info("art", Phase.ARTERIAL)
    pv = _info("pv", Phase.PORTAL_VENOUS)
    assert propose_arterial([pv, art]) is art
    assert propose_arterial([pv]) is None
    thin = _info("thin", Phase.ARTERIAL, thick=0.625, n=400)
    assert propose_arterial([art, thin, pv]) is thin  # thinnest reconstruction of one study
    other_study = _info("art2", Phase.ARTERIAL, study="S2")
    assert propose_arterial([art, other_study]) is None  # two studies: unsure
    twin = _info("twin", Phase.ARTERIAL)
    assert propose_arterial([art, twin]) is None  # indistinguishable: unsure
    seg = _info("seg", Phase.ARTERIAL, is_image=False)
    assert propose_arterial([seg]) is None


def test_series_info_validates() -> None:
    with pytest.raises(DicomError, match="phase"):
        _info("x", "not-a-phase")  # type: ignore[arg-type]
    assert _info("x", "arterial").phase is Phase.ARTERIAL  # type: ignore[arg-type]
    with pytest.raises(DicomError, match="series_uid"):
        _info("", Phase.UNKNOWN)
