"""Seeded diameter proposals on the synthetic sample trial, against its ground truth.

For every lesion of ``sample_dicom/ground_truth.json`` at every timepoint (the committed subject
HCC-001 and the generated HCC-002 / HCC-003), ``propose_diameters`` from the recorded centre on
the arterial series must give the long axis and the viable long axis within one voxel (1.5 mm)
of the design values, on the recorded slice plane; after TACE (HCC-001) the lipiodol deposit must
not be counted as viable tumour. The truth is the generator's analytic geometry (see
``sample_dicom/README.md``), not this code's output.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from readerstation.dicom import load_series
from readerstation.errors import MeasurementError
from readerstation.geometry import Volume
from readerstation.measure import DiameterProposal, propose_diameters, segment_lesion

SAMPLE = Path(__file__).resolve().parents[1] / "sample_dicom"
TRUTH = SAMPLE / "ground_truth.json"
VOXEL_MM = 1.5  # pixel spacing of the sample trial
#: the short axis of a proposal comes from the same outline; it is allowed a little more because
#: the perpendicular chord sits where the outline is least sharp (flank of the ellipse)
SHORT_AXIS_TOL_MM = 2.0


def _truth() -> dict[str, Any]:
    if not TRUTH.is_file():
        pytest.skip(f"{TRUTH} missing: run `readerstation sample generate --out sample_dicom`")
    return json.loads(TRUTH.read_text(encoding="utf-8"))


def _cases() -> list[tuple[str, str, str, str, dict[str, Any]]]:
    if not TRUTH.is_file():
        return []
    out = []
    for s in json.loads(TRUTH.read_text(encoding="utf-8"))["subjects"]:
        for t in s["timepoints"]:
            art = next(x for x in t["series"] if x["phase"] == "ARTERIAL")
            for lesion in t["lesions"]:
                out.append((s["subject"], t["timepoint"], lesion["lesion"], art["folder"], lesion))
    return out


@lru_cache(maxsize=4)
def _volume(folder: str) -> Volume:
    path = SAMPLE / folder
    if not path.is_dir():
        pytest.skip(f"{path} not generated: run `readerstation sample generate --out sample_dicom`")
    return load_series(path)


@lru_cache(maxsize=64)
def _proposal(folder: str, centre: tuple[float, float, float]) -> DiameterProposal:
    return propose_diameters(_volume(folder), centre)


CASES = _cases()


def test_every_timepoint_has_target_lesions() -> None:
    truth = _truth()
    n_targets = sum(
        lesion["role"] == "TARGET"
        for s in truth["subjects"]
        for t in s["timepoints"]
        for lesion in t["lesions"]
    )
    assert n_targets == 3 * 4 * 2  # 3 subjects x 4 timepoints x 2 targets


@pytest.mark.parametrize(
    "subject, timepoint, name, folder, lesion",
    CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES],
)
def test_proposal_matches_the_ground_truth(
    subject: str, timepoint: str, name: str, folder: str, lesion: dict[str, Any]
) -> None:
    centre = tuple(float(v) for v in lesion["centre_lps_mm"])
    p = _proposal(folder, centre)
    assert abs(p.long_axis_mm - lesion["long_axis_mm"]) <= VOXEL_MM, p
    assert abs(p.viable_long_axis_mm - lesion["viable_long_axis_mm"]) <= VOXEL_MM, p
    assert abs(p.short_axis_mm - lesion["short_axis_mm"]) <= SHORT_AXIS_TOL_MM, p
    # the long axis lies on the slice of the recorded one (or its neighbour: the ellipsoid is
    # within a fraction of a mm as long there) and its end points are in LPS mm on that plane
    vol = _volume(folder)
    z = float(lesion["slice_z_mm"])
    assert abs(float(p.long_axis_points_lps[0][2]) - z) <= 2.5 + 1e-6
    assert p.long_axis_points_lps[0][2] == pytest.approx(p.long_axis_points_lps[1][2])
    assert float(np.linalg.norm(p.long_axis_points_lps[1] - p.long_axis_points_lps[0])) == (
        pytest.approx(p.long_axis_mm)
    )
    assert p.sop_instance_uid == vol.sop_instance_uids[p.slice_index]
    if p.slice_index == round(float(vol.patient_to_index(centre)[0])):
        assert p.sop_instance_uid == lesion["arterial_sop_instance_uid"]
    if lesion["viable_long_axis_mm"] == 0:
        assert p.viable_points_lps is None
        assert any("no enhancing tissue found" in w for w in p.warnings)


def test_lipiodol_is_not_counted_as_viable_after_tace() -> None:
    truth = _truth()
    hcc1 = next(s for s in truth["subjects"] if s["subject"] == "HCC-001")
    checked = 0
    for t in hcc1["timepoints"]:
        art = next(x for x in t["series"] if x["phase"] == "ARTERIAL")
        for lesion in t["lesions"]:
            if not lesion["lipiodol"]:
                continue
            centre = tuple(float(v) for v in lesion["centre_lps_mm"])
            p = _proposal(art["folder"], centre)
            # the viable diameter is the enhancing part only, never the (longer) lesion with oil
            assert p.viable_long_axis_mm <= lesion["viable_long_axis_mm"] + VOXEL_MM
            assert p.long_axis_mm - p.viable_long_axis_mm >= (
                lesion["long_axis_mm"] - lesion["viable_long_axis_mm"] - 2 * VOXEL_MM
            )
            # the lipiodol centre is inside the lesion outline but outside the viable mask
            vol = _volume(art["folder"])
            lip = np.asarray(lesion["lipiodol_centre_lps_mm"], float)
            k, r, c = vol.nearest_index(lip)
            seg = p.segmentation.at(p.slice_index)
            assert vol.array[k, r, c] >= 300  # dense oil on the image (650..800 HU by design)
            if k == p.slice_index:
                r0, c0 = seg.offset_rc
                assert seg.mask[r - r0, c - c0]
                assert seg.lipiodol_mask[r - r0, c - c0]
                assert not seg.viable_mask[r - r0, c - c0]
            checked += 1
    assert checked >= 5  # T1 at TP1-TP3 and T2 at TP1-TP3


def test_seed_off_centre_gives_the_same_lesion() -> None:
    truth = _truth()
    t0 = truth["subjects"][0]["timepoints"][0]
    lesion = next(x for x in t0["lesions"] if x["lesion"] == "T1")  # 60 mm, viable 52 mm
    art = next(x for x in t0["series"] if x["phase"] == "ARTERIAL")
    vol = _volume(art["folder"])
    seed = np.asarray(lesion["centre_lps_mm"], float) + np.array([8.0, -6.0, 5.0])
    p = propose_diameters(vol, seed)  # 5 mm (two slices) above the centre, 10 mm aside
    assert abs(p.long_axis_mm - 60.0) <= VOXEL_MM
    assert abs(p.viable_long_axis_mm - 52.0) <= VOXEL_MM


def test_bad_seeds_are_refused_with_a_message() -> None:
    truth = _truth()
    t0 = truth["subjects"][0]["timepoints"][0]
    art = next(x for x in t0["series"] if x["phase"] == "ARTERIAL")
    vol = _volume(art["folder"])
    with pytest.raises(MeasurementError, match="lies outside the image"):
        segment_lesion(vol, (-70.0, -15.0, 400.0))
    with pytest.raises(MeasurementError, match="lies on air"):
        segment_lesion(vol, (-185.0, -175.0, 60.0))
    # liver parenchyma well away from every lesion (right lobe, 40 mm from T1's edge)
    with pytest.raises(MeasurementError, match="not inside a lesion"):
        segment_lesion(vol, (-120.0, 20.0, 60.0))
