"""The ground truth agrees with the voxels of the sample trial in ``sample_dicom/``.

Independent of the generator's code: files are read with pydicom, the slice is found by
ImagePositionPatient, HU come from RescaleSlope/Intercept, and a lesion's extent is measured along
the recorded end points with a half-maximum threshold between levels measured on the image
(FWHM-style), then compared with the recorded diameter within one pixel (1.5 mm).
The whole lesion is measured on the portal-venous phase (necrotic rim and washed-out viable
tumour below liver, lipiodol above); the viable part on the arterial phase (hyper-enhancing).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pydicom
import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "sample_dicom"
TRUTH = SAMPLE / "ground_truth.json"
COMMITTED = SAMPLE / "HCC-001"
MAX_COMMITTED_BYTES = 15_000_000


def _truth() -> dict:
    if not TRUTH.is_file():
        pytest.skip(f"{TRUTH} missing: run `readerstation sample generate --out sample_dicom`")
    return json.loads(TRUTH.read_text(encoding="utf-8"))


@lru_cache(maxsize=128)
def _files_by_z(folder: str) -> dict[float, Path]:
    """Files of a series keyed by ImagePositionPatient z (headers only)."""
    path = SAMPLE / folder
    if not path.is_dir():
        pytest.skip(f"{path} not generated (run `make sample`)")
    out: dict[float, Path] = {}
    for f in path.iterdir():
        ds = pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["ImagePositionPatient"])
        z = round(float(ds.ImagePositionPatient[2]), 3)
        assert z not in out, f"{folder}: two slices at z={z}"
        out[z] = f
    return out


@lru_cache(maxsize=256)
def _slice_at(
    folder: str, z_mm: float
) -> tuple[np.ndarray, tuple[float, float], tuple[float, float]]:
    """HU image, (x, y) of the first pixel and (row, column) spacing of the slice at z."""
    files = _files_by_z(folder)
    assert round(z_mm, 3) in files, f"{folder}: no slice at z={z_mm}"
    ds = pydicom.dcmread(files[round(z_mm, 3)])
    hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    ipp = (float(ds.ImagePositionPatient[0]), float(ds.ImagePositionPatient[1]))
    ps = (float(ds.PixelSpacing[0]), float(ds.PixelSpacing[1]))
    return hu, ipp, ps


def _sample(img: np.ndarray, ipp, ps, pts: np.ndarray) -> np.ndarray:
    """Bilinear HU at LPS points (x, y) of one axial slice (row = y, column = x)."""
    col = (pts[:, 0] - ipp[0]) / ps[1]
    row = (pts[:, 1] - ipp[1]) / ps[0]
    c0, r0 = np.floor(col).astype(int), np.floor(row).astype(int)
    fc, fr = col - c0, row - r0
    return (
        img[r0, c0] * (1 - fc) * (1 - fr)
        + img[r0, c0 + 1] * fc * (1 - fr)
        + img[r0 + 1, c0] * (1 - fc) * fr
        + img[r0 + 1, c0 + 1] * fc * fr
    )


def _profile(folder: str, ends, ext_mm: float) -> tuple[np.ndarray, np.ndarray]:
    p0, p1 = np.asarray(ends[0], float), np.asarray(ends[1], float)
    length = float(np.linalg.norm(p1 - p0))
    u = (p1 - p0) / length
    t = np.arange(-ext_mm, length + ext_mm + 1e-9, 0.1)
    img, ipp, ps = _slice_at(folder, float(p0[2]))
    return t, _sample(img, ipp, ps, p0[None, :] + t[:, None] * u[None, :])


def _series(tp: dict, phase: str) -> str:
    return next(s["folder"] for s in tp["series"] if s["phase"] == phase)


def _lesions():
    if not TRUTH.is_file():
        return []
    truth = json.loads(TRUTH.read_text(encoding="utf-8"))
    return [
        pytest.param(tp, les, id=f"{subj['subject']}-{tp['timepoint']}-{les['lesion']}")
        for subj in truth["subjects"]
        for tp in subj["timepoints"]
        for les in tp["lesions"]
    ]


def test_committed_subject_present_and_small() -> None:
    files = sorted(COMMITTED.rglob("*.dcm"))
    assert len(files) == 4 * 3 * 61, f"{COMMITTED}: {len(files)} files"
    size = sum(f.stat().st_size for f in files)
    assert size < MAX_COMMITTED_BYTES, f"committed subject is {size / 1e6:.1f} MB"


def test_phase_headers_as_designed() -> None:
    truth = _truth()
    tp = truth["subjects"][0]["timepoints"][1]
    seen = {}
    for s in tp["series"]:
        f = next((SAMPLE / s["folder"]).glob("*.dcm"))
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        seen[s["phase"]] = ds
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage
        assert ds.PatientID == ds.PatientName == "HCC-001"
        assert ds.StudyDate == "20240219"  # baseline 2024-01-08 + 42 days
        assert ds.StudyInstanceUID == tp["study_instance_uid"]
        assert ds.FrameOfReferenceUID == tp["frame_of_reference_uid"]
        assert ds.SeriesInstanceUID == s["series_instance_uid"]
        assert float(ds.RescaleIntercept) == -1024 and float(ds.RescaleSlope) == 1
        assert [float(v) for v in ds.PixelSpacing] == [1.5, 1.5]
        assert float(ds.SliceThickness) == 2.5
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.80"  # JPEG-LS lossless
        assert "PatientBirthDate" not in ds or ds.PatientBirthDate == ""
    non, art, pv = seen["NON_CONTRAST"], seen["ARTERIAL"], seen["PORTAL_VENOUS"]
    assert "ContrastBolusAgent" not in non
    assert non.SeriesDescription == "Abd 2.5mm NON-CON"
    assert art.SeriesDescription == "Abd 2.5mm ARTERIAL"
    assert pv.SeriesDescription == "Abd 2.5mm PORTAL VENOUS"
    for ds, delay in ((art, 35), (pv, 70)):
        assert ds.ContrastBolusAgent
        start = ds.ContrastBolusStartTime
        acq = ds.AcquisitionTime

        def secs(tm: str) -> int:
            return int(tm[:2]) * 3600 + int(tm[2:4]) * 60 + int(tm[4:6])

        assert secs(acq) - secs(start) == delay


def test_one_frame_of_reference_per_study_and_distinct_studies() -> None:
    truth = _truth()
    for subj in truth["subjects"]:
        studies = [tp["study_instance_uid"] for tp in subj["timepoints"]]
        assert len(set(studies)) == 4
        dates = [tp["study_date"] for tp in subj["timepoints"]]
        assert dates == sorted(dates)


@pytest.mark.parametrize(("tp", "les"), _lesions())
def test_lesion_diameters_match_voxels(tp: dict, les: dict) -> None:
    pixel = 1.5
    art, pv = _series(tp, "ARTERIAL"), _series(tp, "PORTAL_VENOUS")
    if les["fully_viable"]:
        # one compartment, hyper-enhancing: half maximum between lesion and surrounding liver
        t, v = _profile(art, les["long_axis_endpoints_lps_mm"], 6.0)
        length = les["long_axis_mm"]
        inside = np.median(v[np.abs(t - length / 2) < length / 4])
        outside = np.median(np.r_[v[t < -4.0], v[t > length + 4.0]])
        assert inside - outside > 40, "viable tumour must enhance > 40 HU over liver (arterial)"
        thr = (inside + outside) / 2
        mask = v > thr
    else:
        # necrotic rim / washed-out tumour below liver, lipiodol far above, on portal venous
        t, v = _profile(pv, les["long_axis_endpoints_lps_mm"], 4.5)
        length = les["long_axis_mm"]
        liver = np.median(np.r_[v[t < -3.0], v[t > length + 3.0]])
        necrosis = float(np.min(v))
        assert necrosis < liver - 40, "a non-enhancing (necrotic) part is expected"
        thr = (liver + necrosis) / 2
        mask = (v < thr) | (v > liver + 150)
    idx = np.nonzero(mask)[0]
    assert not (mask[0] or mask[-1]), "the extended line must start and end in liver"
    measured = t[idx[-1]] - t[idx[0]]
    assert measured == pytest.approx(length, abs=pixel), f"measured {measured:.2f} mm"

    if les["viable_endpoints_lps_mm"] is not None and not les["fully_viable"]:
        vlen = les["viable_long_axis_mm"]
        t, v = _profile(art, les["viable_endpoints_lps_mm"], 6.0)
        mid = int(np.argmin(np.abs(t - vlen / 2)))
        core = np.median(v[np.abs(t - vlen / 2) < max(vlen / 4, 1.0)])
        thr = (core + 27.0) / 2  # half way to the necrosis around it (non-enhancing, ~27 HU)
        ind = (v > thr) & (v < 250)  # below lipiodol
        i = j = mid
        while i > 0 and ind[i - 1]:
            i -= 1
        while j < len(t) - 1 and ind[j + 1]:
            j += 1
        assert ind[mid]
        assert t[j] - t[i] == pytest.approx(vlen, abs=pixel), f"viable {t[j] - t[i]:.2f} mm"


@pytest.mark.parametrize(("tp", "les"), _lesions())
def test_lesion_attenuation_per_phase(tp: dict, les: dict) -> None:
    """Designed HU: viable HCC hyper-enhancing arterially (+40..+80 over liver), washed out in
    portal venous (below liver), hypodense unenhanced; lipiodol 300..1000 HU in every phase."""
    z = les["slice_z_mm"]
    levels = {}
    for phase in ("NON_CONTRAST", "ARTERIAL", "PORTAL_VENOUS"):
        img, ipp, ps = _slice_at(_series(tp, phase), z)
        ring = []
        c = np.asarray(les["centre_lps_mm"], float)
        r = les["long_axis_mm"] / 2 + 6.0
        for ang in np.linspace(0, 2 * np.pi, 24, endpoint=False):
            ring.append(c + r * np.array([np.cos(ang), np.sin(ang), 0.0]))
        liver = float(np.median(_sample(img, ipp, ps, np.array(ring))))
        lv = {"liver": liver}
        if les["viable_centre_lps_mm"] is not None:
            lv["viable"] = float(_sample(img, ipp, ps, np.array([les["viable_centre_lps_mm"]]))[0])
        if les["lipiodol"]:
            lip = np.array([les["lipiodol_centre_lps_mm"]])
            lv["lipiodol"] = float(_sample(img, ipp, ps, lip)[0])
        levels[phase] = lv
    assert levels["NON_CONTRAST"]["liver"] == pytest.approx(55, abs=12)
    assert levels["ARTERIAL"]["liver"] == pytest.approx(80, abs=12)
    assert levels["PORTAL_VENOUS"]["liver"] == pytest.approx(110, abs=12)
    if "viable" in levels["ARTERIAL"]:
        a = levels["ARTERIAL"]
        assert 40 - 12 <= a["viable"] - a["liver"] <= 80 + 12
        assert levels["PORTAL_VENOUS"]["viable"] < levels["PORTAL_VENOUS"]["liver"] - 5
        assert levels["NON_CONTRAST"]["viable"] < levels["NON_CONTRAST"]["liver"]
    if les["lipiodol"]:
        for phase in levels:
            assert 300 <= levels[phase]["lipiodol"] <= 1000
