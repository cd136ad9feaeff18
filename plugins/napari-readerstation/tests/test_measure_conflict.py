"""The Measure dock when the same read is open on a second workstation of the same reader (real
napari viewer under Xvfb, real SQLite store, the sample trial).

The other workstation saves first; the dock's next edit is refused by the store (optimistic
versioning): the dock shows the "reload" message in red, its lesion table shows the draft as the
other workstation stored it, and the refused edit is kept in ``session.unsaved``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from napari_readerstation._measure_widget import MeasureWidget

from readerstation.reading import DicomFolderSource, ReadingSession, seed_sample_trial
from readerstation.store import KdfParams, Repository, open_store

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "sample_dicom"
FAST_KDF = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)
PASSWORD = "demo-conflict-pw"


@pytest.fixture
def dock(make_napari_viewer, tmp_path):
    if not (SAMPLE / "HCC-001").is_dir():
        pytest.skip("sample_dicom/HCC-001 missing: run `make sample`")
    images = DicomFolderSource(SAMPLE)
    store = open_store(f"sqlite:///{tmp_path / 'conflict.sqlite'}")
    seed_sample_trial(store, SAMPLE, password=PASSWORD, kdf=FAST_KDF)
    viewer = make_napari_viewer()
    widget = MeasureWidget(viewer, store, images, user="reader1", kdf=FAST_KDF)
    viewer.window.add_dock_widget(widget, name="Measure", area="right")
    yield widget, store, images
    store.close()


def _labels(widget: MeasureWidget) -> list[str]:
    t = widget.lesion_table
    return [t.item(r, 0).text() for r in range(t.rowCount())]


def test_an_edit_refused_by_another_workstation_shows_reload_and_the_stored_draft(
    dock, qtbot
) -> None:
    widget, store, images = dock
    assert widget.login("reader1", PASSWORD)
    assert widget.open_task("HCC-001", "TP0") is not None
    qtbot.waitUntil(lambda: not widget.busy, timeout=30_000)
    # the same reader on another workstation opens the same draft and adds T1 first
    other = ReadingSession(Repository.login(store, "reader1", PASSWORD, kdf=FAST_KDF), images)
    other.open("HCC-001", "TP0")
    other.add_lesion("T1", "target", "liver", liver_segment="VIII", typical_hcc=True)
    # this workstation's edit was based on the older draft: refused, shown, nothing lost
    assert not widget.add_lesion("T2", "target", "liver", liver_segment="VII", typical_hcc=True)
    text = widget.message_label.text()
    assert "reload" in text and "HCC-001/TP0" in text
    assert "color" in widget.message_label.styleSheet()  # shown as an error
    assert _labels(widget) == ["T1"]  # the table shows the draft as stored
    session = widget.session
    assert session is not None and session.unsaved is not None
    assert [a.lesion.label for a in session.unsaved.lesions] == ["T2"]
    # redoing the edit on the reloaded draft saves it on top of the other's
    assert widget.add_lesion("T2", "target", "liver", liver_segment="VII", typical_hcc=True)
    assert _labels(widget) == ["T1", "T2"]
    stored = Repository.login(store, "reader1", PASSWORD, kdf=FAST_KDF)
    latest = stored.list_reads("HCC-001", latest_only=True)[0]
    assert [a.lesion.label for a in stored.get_read(latest.read_id).lesions] == ["T1", "T2"]
