"""The synthetic sample trial (sample_dicom/) read through the plugin, checked against the
generator's ground_truth.json (lesion centres in LPS mm, arterial SOPInstanceUIDs, HU by tissue)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REPO
from napari_readerstation._adapter import from_layer

SAMPLE = REPO / "sample_dicom"


@pytest.fixture(scope="module")
def truth() -> dict:
    path = SAMPLE / "ground_truth.json"
    if not path.is_file():
        pytest.skip("sample_dicom/ground_truth.json is absent; run `make sample`")
    return json.loads(path.read_text())


def test_reader_opens_first_timepoint_arterial_with_lesion_where_truth_says(
    make_napari_viewer, qtbot, drops, truth
):
    subject = truth["subjects"][0]
    folder = SAMPLE / subject["folder"]
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent; run `make sample`")
    baseline = min(subject["timepoints"], key=lambda tp: tp["study_date"])
    arterial = next(s for s in baseline["series"] if s["phase"] == "ARTERIAL")
    viewer = make_napari_viewer()
    # a whole subject (732 files) is indexed in the background: the reader returns nothing and
    # the layer arrives when the first timepoint's arterial series is planned
    assert viewer.open(str(folder), plugin="napari-readerstation") == []
    qtbot.waitUntil(lambda: len(viewer.layers) == 1, timeout=60000)
    (layer,) = viewer.layers
    qtbot.waitUntil(lambda: layer.metadata["readerstation"].loaded, timeout=60000)
    record = layer.metadata["readerstation"]
    assert record.info.series_uid == arterial["series_instance_uid"]
    assert layer.name == f"{subject['subject']} arterial {arterial['series_description']}"
    view = from_layer(layer)
    # a fully viable lesion: its centre voxel is arterially enhancing tumour
    lesion = next(les for les in baseline["lesions"] if les["fully_viable"])
    centre = np.array(lesion["centre_lps_mm"], float)
    world = view.patient_to_world(centre)
    np.testing.assert_allclose(world, centre[::-1], atol=1e-6)  # world (S, P, L), axial sample
    k, j, i = np.rint(layer.world_to_data(world)).astype(int)
    assert view.volume.sop_instance_uids[k] == lesion["arterial_sop_instance_uid"]
    viable_hu = truth["attenuation_hu"]["viable_tumour"][1]  # phases: NON_CONTRAST, ARTERIAL, PV
    noise = truth["attenuation_hu"]["noise_sd"]
    assert abs(float(layer.data[k, j, i]) - viable_hu) <= 5 * noise
    # radiological convention: a lesion in the patient's right liver (L < 0) is drawn left of
    # the image centre, i.e. at a smaller world-L than the centre of the field of view
    assert centre[0] < 0 and world[2] < layer.data_to_world((k, j, layer.data.shape[2] // 2))[2]
