"""The DICOMweb PACS source and sink, against a real Orthanc with its DICOMweb plugin.

Each pytest process starts its own throw-away Orthanc with ``scripts/orthanc.sh`` (127.0.0.1,
temporary storage, free port) and stops it at the end. Without Orthanc installed the tests skip,
except under ``CI`` where they fail (``.ci/run`` installs it through ``scripts/system-deps.sh``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from readerstation.cli import main
from readerstation.dicom import load_series
from readerstation.dicom.pacs import DicomWebSource, iter_multipart_parts
from readerstation.dicom.phase import Phase
from readerstation.errors import LoadCancelled, PacsError, SeriesSelectionError

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "orthanc.sh"
SUBJECT = ROOT / "sample_dicom" / "HCC-001"
TIMEPOINTS = ("TP0_baseline", "TP1_week06")
N_SLICES = 61


def _start_orthanc(folder: Path) -> str:
    """Start an Orthanc in ``folder``; skip (fail under CI) when it is not installed."""
    proc = subprocess.run(
        ["bash", str(SCRIPT), "start", str(folder)], capture_output=True, text=True, check=False
    )
    if proc.returncode == 3:
        reason = f"Orthanc is not installed ({proc.stderr.strip()})"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}; .ci/run must install it", pytrace=False)
        pytest.skip(reason)
    if proc.returncode != 0:
        pytest.fail(f"could not start Orthanc: {proc.stderr}", pytrace=False)
    return proc.stdout.strip().splitlines()[-1]


def _stop_orthanc(folder: Path) -> None:
    subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], check=False, capture_output=True)


@pytest.fixture(scope="session")
def orthanc_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DICOMweb URL of an Orthanc started for this test process (stopped afterwards)."""
    folder = tmp_path_factory.mktemp("orthanc") / "server"
    url = _start_orthanc(folder)
    try:
        yield url
    finally:
        _stop_orthanc(folder)


@pytest.fixture(scope="session")
def sample_series() -> dict[str, Path]:
    """Series folders of sample subject HCC-001 (two timepoints), by SeriesInstanceUID."""
    if not SUBJECT.is_dir():
        pytest.skip(f"{SUBJECT} missing: run `readerstation sample generate --out sample_dicom`")
    out = {}
    for tp in TIMEPOINTS:
        for folder in sorted((SUBJECT / tp).iterdir()):
            first = next(folder.glob("*.dcm"))
            out[str(pydicom.dcmread(first, stop_before_pixels=True).SeriesInstanceUID)] = folder
    return out


@pytest.fixture(scope="session")
def uploaded(orthanc_url: str, sample_series: dict[str, Path]) -> dict[str, Path]:
    """The sample series, stored on the Orthanc with STOW-RS through ``push``."""
    result = DicomWebSource(orthanc_url).push(list(sample_series.values()))
    assert len(result.stored) == N_SLICES * len(sample_series)
    return sample_series


def _arterial(series: dict[str, Path], tp: str = "TP0_baseline") -> tuple[str, Path]:
    (uid, folder) = next((u, f) for u, f in series.items() if f.parts[-2:] == (tp, "3_arterial"))
    return uid, folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- query
def test_query_subject_lists_its_studies_and_series(
    orthanc_url: str, uploaded: dict[str, Path]
) -> None:
    pacs = DicomWebSource(orthanc_url)
    studies = pacs.query_studies("HCC-001")
    assert [s.study_id for s in studies] == ["TP0", "TP1"]  # sorted by date
    assert all(s.subject == "HCC-001" and s.modalities == ("CT",) for s in studies)
    assert all(s.n_series == 3 and s.n_instances == 3 * N_SLICES for s in studies)
    series = pacs.query_series(studies[0].study_uid)
    assert [s.series_number for s in series] == [2, 3, 4]
    assert [s.phase for s in series] == [Phase.NON_CONTRAST, Phase.ARTERIAL, Phase.PORTAL_VENOUS]
    assert {s.series_uid for s in series} <= set(uploaded)
    assert all(s.n_instances == N_SLICES and s.modality == "CT" for s in series)
    assert pacs.query_studies("HCC-999") == ()


# --------------------------------------------------------------------------- retrieve
def test_pull_loads_identical_to_disk(
    orthanc_url: str, uploaded: dict[str, Path], tmp_path: Path
) -> None:
    uid, folder = _arterial(uploaded)
    calls: list[tuple[int, int]] = []
    pacs = DicomWebSource(orthanc_url, cache_dir=tmp_path / "cache")
    path = pacs.retrieve_series(uid, progress=lambda d, n: calls.append((d, n)))
    assert path == tmp_path / "cache" / uid and pacs.is_cached(uid)
    assert calls == [(k, N_SLICES) for k in range(N_SLICES + 1)]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [uid]  # no leftovers
    from_pacs, from_disk = load_series(path), load_series(folder)
    assert from_pacs.array.dtype == from_disk.array.dtype
    assert np.array_equal(from_pacs.array, from_disk.array)
    np.testing.assert_array_equal(from_pacs.spacing, from_disk.spacing)
    np.testing.assert_array_equal(from_pacs.origin, from_disk.origin)
    np.testing.assert_array_equal(from_pacs.direction, from_disk.direction)
    np.testing.assert_array_equal(from_pacs.slice_positions, from_disk.slice_positions)
    assert from_pacs.sop_instance_uids == from_disk.sop_instance_uids
    # the files are the stored ones, byte for byte in their pixel data and transfer syntax
    original = pydicom.dcmread(next(folder.glob("*.dcm")))
    by_uid = {pydicom.dcmread(f).SOPInstanceUID: f for f in path.iterdir()}
    pulled = pydicom.dcmread(by_uid[original.SOPInstanceUID])
    assert pulled.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert pulled.PixelData == original.PixelData


def test_pull_twice_uses_the_cache_and_force_replaces(
    orthanc_url: str, uploaded: dict[str, Path], tmp_path: Path
) -> None:
    uid, _ = _arterial(uploaded, "TP1_week06")
    pacs = DicomWebSource(orthanc_url, cache_dir=tmp_path)
    path = pacs.retrieve_series(uid)
    marker = path / "00001.dcm"
    before = marker.stat().st_ino
    assert pacs.retrieve_series(uid) == path and marker.stat().st_ino == before
    assert pacs.retrieve_series(uid, force=True) == path
    assert marker.stat().st_ino != before and len(list(path.iterdir())) == N_SLICES
    assert sorted(p.name for p in tmp_path.iterdir()) == [uid]


@pytest.mark.parametrize("how", ["event", "progress_false"])
def test_cancel_mid_pull_leaves_no_partial_folder(
    orthanc_url: str, uploaded: dict[str, Path], tmp_path: Path, how: str
) -> None:
    uid, _ = _arterial(uploaded)
    pacs = DicomWebSource(orthanc_url, cache_dir=tmp_path)
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int) -> bool:
        seen.append(done)
        if done == 10:
            if how == "event":
                cancel.set()
            else:
                return False
        return True

    with pytest.raises(LoadCancelled, match="nothing was kept"):
        pacs.retrieve_series(uid, progress=progress, cancel=cancel)
    assert max(seen) in (10, 11) and max(seen) < N_SLICES
    assert list(tmp_path.iterdir()) == []
    assert not pacs.is_cached(uid)


def test_cancel_from_another_thread(
    orthanc_url: str, uploaded: dict[str, Path], tmp_path: Path
) -> None:
    """What a viewer does: pull in a worker thread, press Cancel in the GUI thread."""
    uid, _ = _arterial(uploaded)
    pacs = DicomWebSource(orthanc_url, cache_dir=tmp_path)
    cancel, started, go_on = threading.Event(), threading.Event(), threading.Event()
    outcome: list[BaseException | Path] = []

    def progress(done: int, total: int) -> None:
        if done == 5:
            started.set()
            go_on.wait(10)

    def work() -> None:
        try:
            outcome.append(pacs.retrieve_series(uid, progress=progress, cancel=cancel))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    assert started.wait(30)
    cancel.set()
    go_on.set()
    worker.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], LoadCancelled)
    assert list(tmp_path.iterdir()) == []


def test_stale_partial_folder_of_a_dead_process_is_removed(
    orthanc_url: str, uploaded: dict[str, Path], tmp_path: Path
) -> None:
    uid, _ = _arterial(uploaded)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".partial-{dead.pid}-{uid}-x1"
    stale.mkdir()
    (stale / "00001.dcm").write_bytes(b"half")
    mine = tmp_path / f".partial-{os.getpid()}-1.2.3-x2"  # a live process's pull is left alone
    mine.mkdir()
    DicomWebSource(orthanc_url, cache_dir=tmp_path).retrieve_series(uid)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([uid, mine.name])


def test_unknown_series_is_a_clear_error(orthanc_url: str, tmp_path: Path) -> None:
    pacs = DicomWebSource(orthanc_url, cache_dir=tmp_path)
    with pytest.raises(PacsError, match=r"holds no series 1\.2\.3.*pacs query"):
        pacs.retrieve_series("1.2.3")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- down / refusing
def test_cache_keeps_working_when_the_pacs_goes_down(
    sample_series: dict[str, Path], tmp_path: Path
) -> None:
    """Pull, stop Orthanc: the cached series still loads; a query gives the clear error."""
    folder = tmp_path / "server"
    url = _start_orthanc(folder)
    try:
        uid, disk = _arterial(sample_series)
        pacs = DicomWebSource(url, cache_dir=tmp_path / "cache", timeout=5)
        pacs.push([disk])
        path = pacs.retrieve_series(uid)
    finally:
        _stop_orthanc(folder)
    assert not folder.exists()  # the throw-away storage is gone
    assert pacs.retrieve_series(uid) == path  # served from the cache, no PACS contact
    assert np.array_equal(load_series(path).array, load_series(disk).array)
    with pytest.raises(PacsError) as info:
        pacs.query_studies("HCC-001")
    message = str(info.value)
    assert url in message and "cannot connect" in message and "running" in message
    assert str(tmp_path / "cache") in message  # says the cache still works
    with pytest.raises(PacsError, match="cannot connect"):
        pacs.retrieve_series(uid, force=True)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [uid]


def test_connection_refused_names_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/dicom-web"
    pacs = DicomWebSource(url, cache_dir=tmp_path, timeout=5)
    with pytest.raises(PacsError, match=r"cannot connect to the PACS at http://127\.0\.0\.1:\d+/"):
        pacs.query_studies()
    with pytest.raises(PacsError):
        pacs.retrieve_series("1.2.3")
    assert isinstance(PacsError("x"), OSError)
    assert list(tmp_path.iterdir()) == []


def test_wrong_root_is_an_http_error_with_advice(orthanc_url: str) -> None:
    wrong = orthanc_url.rsplit("/", 1)[0] + "/not-dicomweb"
    with pytest.raises(PacsError, match=r"answered HTTP 404.*DICOMweb root"):
        DicomWebSource(wrong).query_studies()


def test_timeout_is_a_clear_error(tmp_path: Path) -> None:
    """A server that accepts the connection but never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/dicom-web"
        with pytest.raises(PacsError, match=r"did not answer within 0\.5 s"):
            DicomWebSource(url, timeout=0.5).query_studies()


def test_bad_url_is_refused() -> None:
    with pytest.raises(PacsError, match="not an http"):
        DicomWebSource("ftp://pacs/dicom-web")
    with pytest.raises(PacsError, match="no cache folder"):
        DicomWebSource("http://127.0.0.1:1/dicom-web").cached_path("1.2.3")
    with pytest.raises(SeriesSelectionError, match="digits and dots"):
        DicomWebSource("http://127.0.0.1:1/dicom-web", cache_dir=".").retrieve_series("../x")


# --------------------------------------------------------------------------- store
def test_push_a_new_file_and_find_it_by_query(
    orthanc_url: str, sample_series: dict[str, Path], tmp_path: Path
) -> None:
    _, disk = _arterial(sample_series)
    ds = pydicom.dcmread(next(disk.glob("*.dcm")))
    ds.PatientID = ds.PatientName = "HCC-PUSH"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    path = tmp_path / "one.dcm"
    ds.save_as(path)
    pacs = DicomWebSource(orthanc_url, cache_dir=tmp_path / "cache")
    result = pacs.push([path])
    assert result.stored == (ds.SOPInstanceUID,) and result.files == (path,)
    (study,) = pacs.query_studies("HCC-PUSH")
    assert study.study_uid == ds.StudyInstanceUID
    (series,) = pacs.query_series(study.study_uid)
    assert series.series_uid == ds.SeriesInstanceUID and series.n_instances == 1
    back = pydicom.dcmread(next(pacs.retrieve_series(series.series_uid).iterdir()))
    assert back.SOPInstanceUID == ds.SOPInstanceUID and back.PixelData == ds.PixelData


@pytest.mark.realdata
def test_push_real_sr_and_seg_and_get_them_back(
    orthanc_url: str, dicom_testdata: Path, tmp_path: Path
) -> None:
    files = [
        dicom_testdata / "sr_and_seg" / "sr_document.dcm",
        dicom_testdata / "sr_and_seg" / "seg_image_ct_binary_single_frame.dcm",
    ]
    originals = [pydicom.dcmread(f) for f in files]
    pacs = DicomWebSource(orthanc_url, cache_dir=tmp_path)
    result = pacs.push(files)
    assert set(result.stored) == {str(d.SOPInstanceUID) for d in originals}
    (study,) = pacs.query_studies(str(originals[0].PatientID))
    modalities = {s.modality: s for s in pacs.query_series(study.study_uid)}
    assert {"SR", "SEG"} <= set(modalities)
    for original in originals:
        folder = pacs.retrieve_series(str(original.SeriesInstanceUID))
        back = [pydicom.dcmread(f) for f in folder.iterdir()]
        match = [d for d in back if d.SOPInstanceUID == original.SOPInstanceUID]
        assert len(match) == 1
        assert match[0] == original  # every data element equal


def test_push_refuses_non_dicom_and_missing(orthanc_url: str, tmp_path: Path) -> None:
    from readerstation.errors import DicomError

    junk = tmp_path / "notes.txt"
    junk.write_text("not dicom")
    pacs = DicomWebSource(orthanc_url)
    with pytest.raises(DicomError, match=r"notes\.txt: not a DICOM file"):
        pacs.push([junk])
    with pytest.raises(DicomError, match="no such file"):
        pacs.push([tmp_path / "absent.dcm"])


# --------------------------------------------------------------------------- CLI
def test_cli_query_pull_push(
    orthanc_url: str,
    uploaded: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["pacs", "query", "--url", orthanc_url, "--subject", "HCC-001", "--json"]) == 0
    studies = json.loads(capsys.readouterr().out)
    assert [s["study_id"] for s in studies] == ["TP0", "TP1"]
    arterial = [s for s in studies[0]["series"] if s["phase"] == "arterial"]
    assert len(arterial) == 1 and arterial[0]["n_instances"] == N_SLICES
    uid = arterial[0]["series_uid"]

    assert main(["pacs", "query", "--url", orthanc_url, "--subject", "HCC-001"]) == 0
    table = capsys.readouterr().out
    assert "2 studies for subject HCC-001" in table and uid in table and "arterial" in table

    out = tmp_path / "cache"
    assert (
        main(["-v", "pacs", "pull", "--url", orthanc_url, "--series", uid, "--out", str(out)]) == 0
    )
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out / uid)
    assert f"{N_SLICES}/{N_SLICES} instances" in captured.err
    assert len(list((out / uid).iterdir())) == N_SLICES

    ds = pydicom.dcmread(next((out / uid).iterdir()))
    ds.PatientID = "HCC-CLI"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(tmp_path / "cli.dcm")
    assert main(["pacs", "push", "--url", orthanc_url, str(tmp_path / "cli.dcm")]) == 0
    assert "stored 1 instance(s) from 1 file(s)" in capsys.readouterr().out
    assert main(["pacs", "query", "--url", orthanc_url, "--subject", "HCC-CLI", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["series"][0]["series_uid"] == ds.SeriesInstanceUID


def test_cli_down_pacs_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_free_port()}/dicom-web"
    assert main(["pacs", "query", "--url", url]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and url in err and "Traceback" not in err


# --------------------------------------------------------------------------- multipart parser
def _message(parts: list[bytes], boundary: bytes = b"b0undary") -> bytes:
    out = b"preamble to ignore"
    for p in parts:
        out += b"\r\n--" + boundary + b"\r\nContent-Type: application/dicom\r\n\r\n" + p
    return out + b"\r\n--" + boundary + b"--\r\n"


@pytest.mark.parametrize("size", [1, 3, 7, 64, 10_000])
def test_multipart_parts_survive_any_chunking(size: int) -> None:
    rng = np.random.default_rng(size)
    parts = [rng.bytes(n) for n in (0, 1, 500, 2000)] + [b"\r\n--b0undar", b"--"]
    body = _message(parts)
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    assert list(iter_multipart_parts(chunks, b"b0undary")) == parts


def test_truncated_multipart_is_an_error() -> None:
    body = _message([b"abc", b"def"])
    with pytest.raises(PacsError, match="cut off"):
        list(iter_multipart_parts([body[:-20]], b"b0undary"))
