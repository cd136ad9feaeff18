"""The pure-Python parts (no display): window presets, subject codes, controller refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from dicom_builder import write_ct_series, write_three_phase_study
from napari_readerstation._adapter import from_layer
from napari_readerstation._controller import (
    ReadingController,
    derive_studies,
    derive_subject_code,
    iter_folder_index,
)
from napari_readerstation._windows import STANDARD_WINDOWS, WindowPreset, find_window

from readerstation import dicom
from readerstation.errors import GeometryError, ReaderstationError, SeriesSelectionError


def test_standard_windows_are_the_usual_ct_presets():
    # width / level in HU -> napari contrast limits (level - width / 2, level + width / 2)
    limits = {w.name: w.contrast_limits for w in STANDARD_WINDOWS}
    assert limits == {
        "Liver": (15.0, 165.0),  # W150 / L90
        "Abdomen": (-150.0, 250.0),  # W400 / L50
        "Lung": (-1350.0, 150.0),  # W1500 / L-600
        "Bone": (-500.0, 1300.0),  # W1800 / L400
    }
    assert [w.shortcut for w in STANDARD_WINDOWS] == ["Alt+1", "Alt+2", "Alt+3", "Alt+4"]


def test_window_presets_refuse_nonsense():
    with pytest.raises(ReaderstationError, match="width must be a positive number of HU"):
        WindowPreset("Flat", width=0, level=40)
    with pytest.raises(ReaderstationError, match="Unknown window preset 'brain'"):
        find_window("brain")
    assert find_window(" LIVER ").level == 90


@pytest.mark.parametrize(
    ("root_name", "rel", "code"),
    [
        ("sample_dicom", "HCC-001/TP0_baseline/3_arterial/0001.dcm", "HCC-001"),
        ("sample_dicom", "generated/HCC-003/TP1/s/1.dcm", "HCC-003"),
        ("HCC-007", "TP0_baseline/3_arterial/0001.dcm", "HCC-007"),  # opened the subject
        ("HCC-007", "0001.dcm", "HCC-007"),
        ("HCC-007/TP0_baseline", "3_arterial/0001.dcm", "HCC-007"),  # opened a timepoint
    ],
)
def test_subject_code_comes_from_folder_names(tmp_path, root_name, rel, code):
    root = tmp_path / root_name
    assert derive_subject_code(root / rel, root) == code


def test_subject_code_falls_back_to_first_subfolder(tmp_path):
    root = tmp_path / "trial"
    assert derive_subject_code(root / "patientA" / "x.dcm", root) == "patientA"
    assert derive_subject_code(root / "x.dcm", root) == "trial"


def test_a_timepoint_folder_opened_on_its_own_is_one_study_of_its_subject(tmp_path):
    # HCC-901/20240115/{s1,s2,s3}: opening 20240115 used to make each series folder a "subject"
    uids = write_three_phase_study(tmp_path / "trial", "HCC-901")
    timepoint = tmp_path / "trial" / "HCC-901" / "20240115"
    (study,) = derive_studies(dicom.index_folder(timepoint), timepoint)
    assert study.subject == "HCC-901"
    assert [s.series_uid for s in study.series] == [
        uids["non_contrast"],
        uids["arterial"],
        uids["portal_venous"],
    ]
    assert study.proposed.series_uid == uids["arterial"]


def test_controller_refuses_to_load_before_a_folder_is_open():
    controller = ReadingController()
    with pytest.raises(SeriesSelectionError, match="No folder is open"):
        controller.open_series()
    assert controller.cancel_loading() is False


def test_controller_explains_a_folder_without_images(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("nothing")
    controller = ReadingController()
    messages: list[str] = []
    controller.failed.connect(messages.append)
    with pytest.raises(SeriesSelectionError, match="No image series found"):
        controller.open_folder(tmp_path)
    assert controller.studies == ()


def test_from_layer_refuses_foreign_layers():
    class Layer:
        name = "somebody else's"

        def __init__(self) -> None:
            self.metadata: dict = {}

    with pytest.raises(GeometryError, match="carries no readerstation geometry"):
        from_layer(Layer())


def test_folder_is_indexed_subject_by_subject(tmp_path):
    root = tmp_path / "trial"
    write_three_phase_study(root, "HCC-901")
    write_three_phase_study(root, "HCC-902")
    (root / "README.md").write_text("a note next to the subjects")
    parts = list(iter_folder_index(root))
    assert [len(p.image_series()) for p in parts] == [3, 6]  # HCC-901 first, then both
    assert parts[-1].skipped["non_dicom"] == 1
    first_files = {f for s in parts[0].series for f in s.files}
    assert all("HCC-901" in str(f) for f in first_files)
    controller = ReadingController()
    studies = controller.open_folder(root)
    assert [s.subject for s in studies] == ["HCC-901", "HCC-902"]
    assert controller.proposed.description == "AX ARTERIAL"
    assert "HCC-901" in str(controller.proposed.files[0])


def test_a_series_split_over_subject_folders_is_indexed_as_one(tmp_path):
    root = tmp_path / "trial"
    uid, files = write_ct_series(root / "HCC-901", n_slices=4)
    (root / "HCC-902").mkdir()
    for f in files[:2]:  # half of the series in another sub-folder
        f.rename(root / "HCC-902" / f.name)
    parts = list(iter_folder_index(root))
    final = parts[-1]
    assert [s.series_uid for s in final.image_series()] == [uid]
    assert final.image_series()[0].n_images == 4
