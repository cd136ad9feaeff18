"""readerstation.dicom on the sample trial: the arterial series is proposed for every timepoint and
loads with the designed geometry (values from the DICOM headers as designed, see README)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import readerstation.dicom as dicom

SAMPLE = Path(__file__).resolve().parents[1] / "sample_dicom"


@pytest.fixture(scope="module")
def truth() -> dict:
    path = SAMPLE / "ground_truth.json"
    if not path.is_file():
        pytest.skip(f"{path} missing: run `readerstation sample generate --out sample_dicom`")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def index():
    folder = SAMPLE / "HCC-001"
    if not folder.is_dir():
        pytest.skip(f"{folder} missing (the committed sample subject)")
    return dicom.index_folder(folder)


def test_index_proposes_the_arterial_series_at_every_timepoint(truth: dict, index) -> None:
    subj = truth["subjects"][0]
    assert len(index.image_series()) == 12 and not index.problems
    for tp in subj["timepoints"]:
        in_study = [s for s in index.series if s.study_uid == tp["study_instance_uid"]]
        assert len(in_study) == 3
        chosen = dicom.propose_arterial(in_study)
        expected = next(s for s in tp["series"] if s["phase"] == "ARTERIAL")
        assert chosen is not None, tp["timepoint"]
        assert chosen.series_uid == expected["series_instance_uid"]
        assert chosen.description == "Abd 2.5mm ARTERIAL"


def test_loaded_arterial_volume_has_designed_geometry(truth: dict, index) -> None:
    tp = truth["subjects"][0]["timepoints"][0]
    uid = next(s["series_instance_uid"] for s in tp["series"] if s["phase"] == "ARTERIAL")
    vol = dicom.load_series(index.find(uid))
    assert vol.shape == (61, 256, 256)
    assert vol.spacing == pytest.approx((2.5, 1.5, 1.5))
    # first pixel centre: x = 0 - 255 / 2 * 1.5, y = 10 - 255 / 2 * 1.5; lowest slice z = -50
    assert vol.origin == pytest.approx((-191.25, -181.25, -50.0))
    np.testing.assert_allclose(vol.direction, np.eye(3), atol=1e-9)
    assert vol.frame_of_reference_uid == tp["frame_of_reference_uid"]
    # HU: air outside the body, enhancing viable tumour at the recorded viable centre of T1
    assert int(vol.array[30, 0, 0]) == -1000
    t1 = next(les for les in tp["lesions"] if les["lesion"] == "T1")
    k, j, i = vol.nearest_index(t1["viable_centre_lps_mm"])
    assert 130 <= int(vol.array[k, j, i]) <= 170  # designed 150 HU + noise
    # the recorded measurement slice is the one at the lesion centre z
    assert vol.slice_positions[k][2] == pytest.approx(t1["slice_z_mm"])
