"""Fixtures of the plugin's UI tests: small synthetic DICOM folders and a slowed-down loader."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from pydicom.uid import generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dicom_builder import write_ct_series, write_three_phase_study

REPO = Path(__file__).resolve().parents[3]
TESTDATA = REPO / ".." / "shared" / "testdata" / "dicom"


@pytest.fixture
def three_phase(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A trial folder with one subject (HCC-901), one study, three phases of 6 slices."""
    root = tmp_path / "trial"
    uids = write_three_phase_study(root, "HCC-901")
    return root, uids


@pytest.fixture
def corrupt_folder(tmp_path: Path) -> Path:
    """Files named .dcm that are not DICOM, and a DICOM slice whose pixel data is cut short."""
    root = tmp_path / "corrupt"
    root.mkdir()
    (root / "a.dcm").write_bytes(b"this is not dicom at all" * 10)
    (root / "b.dcm").write_bytes(b"")
    _, files = write_ct_series(root / "s", n_slices=3, description="AX ARTERIAL")
    data = files[1].read_bytes()
    files[1].write_bytes(data[: len(data) - 1500])  # truncate the pixel data of one slice
    return root


@pytest.fixture
def no_image_folder(tmp_path: Path) -> Path:
    """A folder with only non-DICOM files."""
    root = tmp_path / "notes"
    root.mkdir()
    (root / "readme.txt").write_text("no images here")
    return root


@pytest.fixture
def unsure_folder(tmp_path: Path) -> tuple[Path, list[str]]:
    """Two series whose phase the headers do not tell (no contrast info, neutral names)."""
    root = tmp_path / "unsure" / "HCC-902"
    study = generate_uid()
    a, _ = write_ct_series(
        root / "a",
        subject="HCC-902",
        study_uid=study,
        description="SERIES A",
        contrast=None,
        bolus_start=None,
        series_number=4,
    )
    b, _ = write_ct_series(
        root / "b",
        subject="HCC-902",
        study_uid=study,
        description="SERIES B",
        contrast=None,
        bolus_start=None,
        series_number=5,
    )
    return root.parent, [a, b]


@pytest.fixture
def slow_loading(monkeypatch: pytest.MonkeyPatch) -> float:
    """Make every decoded slice take ``delay`` seconds more, to watch loading and cancel it."""
    from readerstation import dicom

    original = dicom.load_series
    delay = 0.12

    def slow(source, series_uid=None, *, progress=None, out=None, **kwargs):
        def slowed(done: int, total: int) -> object:
            time.sleep(delay)
            return progress(done, total) if progress is not None else None

        return original(source, series_uid, progress=slowed, out=out, **kwargs)

    monkeypatch.setattr(dicom, "load_series", slow)
    return delay


def shared_testdata(name: str) -> Path:
    """A folder of the shared real test data, or skip the test when it is absent."""
    path = TESTDATA / name
    if not path.is_dir():
        pytest.skip(f"real test data {path} is absent (see /work/shared/testdata/README.md)")
    return path


class SlowDecoding:
    """``readerstation.dicom.load_stored_pixels`` slowed by ``delay`` s, calls recorded."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls: list[tuple[str, float]] = []  # (thread name, time.perf_counter())


@pytest.fixture
def slow_decoding(monkeypatch: pytest.MonkeyPatch) -> SlowDecoding:
    """Make decoding one file for the drag-and-drop reader take 0.15 s more; count decodes."""
    from readerstation import dicom

    original = dicom.load_stored_pixels
    slow = SlowDecoding(0.15)

    def decode(path):
        slow.calls.append((threading.current_thread().name, time.perf_counter()))
        time.sleep(slow.delay)
        return original(path)

    monkeypatch.setattr(dicom, "load_stored_pixels", decode)
    return slow


@pytest.fixture
def drops(make_napari_viewer, qtbot):
    """Teardown: stop the reader's background loads and wait for their threads (before the
    viewers close: a worker finishing after its viewer is gone aborts PyQt)."""
    from napari_readerstation import _reader

    yield _reader
    for load in list(_reader._ACTIVE):
        load.stop()
    qtbot.waitUntil(lambda: not _reader.active_loads(), timeout=30000)
