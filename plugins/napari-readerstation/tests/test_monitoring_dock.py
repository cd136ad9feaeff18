"""The Monitoring dock (real Qt under Xvfb, real SQLite store with the sample trial read twice):
it shows the store's agreement report as it is, per criteria, with a Bland-Altman plot, and a
reader is refused.

Truths: ``Repository.agreement()`` and the designed discrepancies of the sample dual reads
(2 of 3 subjects need adjudication, 1 of 3 differ on the best overall response).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from napari_readerstation._monitoring_widget import (
    FIGURE_ROWS,
    MonitoringWidget,
    derive_figure_texts,
)
from napari_readerstation.launch import DEMO_ADJUDICATOR, seed_demo_store

from readerstation.reading import DEMO_PASSWORD
from readerstation.store import KdfParams, Repository, open_store

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "sample_dicom"
FAST_KDF = KdfParams(time_cost=1, memory_kib=1024, parallelism=1)


@pytest.fixture
def panel(qtbot, tmp_path):
    if not (SAMPLE / "ground_truth.json").is_file():
        pytest.skip("sample_dicom missing: run `make sample`")
    store = open_store(f"sqlite:///{tmp_path / 'monitor.sqlite'}")
    assert seed_demo_store(store, SAMPLE, dual=True, kdf=FAST_KDF)
    widget = MonitoringWidget(store, kdf=FAST_KDF)
    qtbot.addWidget(widget)
    yield widget, store
    store.close()


def test_reader_is_refused(panel) -> None:
    widget, _ = panel
    assert not widget.login("reader1", DEMO_PASSWORD)
    assert widget.report is None
    assert widget.message_label.text()
    assert widget.figures.item(0, 0) is None


@pytest.mark.parametrize("user", ["admin", DEMO_ADJUDICATOR])
def test_figures_and_bland_altman_plot_are_the_stores(panel, user) -> None:
    widget, store = panel
    assert widget.login(user, DEMO_PASSWORD), widget.message_label.text()
    report = Repository.login(store, user, DEMO_PASSWORD, kdf=FAST_KDF).agreement()
    names = [widget.criteria_combo.itemData(i) for i in range(widget.criteria_combo.count())]
    assert sorted(names) == ["mrecist", "recist1.1"]
    for i, name in enumerate(names):
        widget.criteria_combo.setCurrentIndex(i)
        c = report[name]
        shown = [widget.figures.item(r, 0).text() for r in range(len(FIGURE_ROWS))]
        assert shown == derive_figure_texts(c)
        assert shown[1] == "67 % (2/3)"  # HCC-002 and HCC-003 need adjudication
        assert shown[2] == "33 % (1/3)"  # HCC-003: SD vs PD
        # per reader figures as the store gives them to this role: names for the admin, for
        # the blinded adjudicator none (or pseudonyms), never a reader's account name
        assert widget.readers.rowCount() == len(c.readers)
        shown_readers = {widget.readers.item(r, 0).text() for r in range(len(c.readers))}
        if user == "admin":
            assert shown_readers == {"reader1", "reader2"}
        else:
            assert not shown_readers & {"reader1", "reader2"}
        assert ("admins only" in widget.readers_note.text()) is (not c.readers)
        # the plot: one point per matched timepoint sum, difference = read 1 - read 2
        points = widget.axes.collections[0].get_offsets()
        pairs = np.asarray(c.sum_pairs, float)
        assert len(points) == c.bland_altman_sum_mm.n == len(pairs) > 0
        assert np.allclose(points[:, 1], pairs[:, 0] - pairs[:, 1])
        lines = sorted(round(float(ln.get_ydata()[0]), 6) for ln in widget.axes.get_lines())
        ba = c.bland_altman_sum_mm
        assert lines[0] == pytest.approx(ba.lower_loa) and lines[-1] == pytest.approx(ba.upper_loa)
