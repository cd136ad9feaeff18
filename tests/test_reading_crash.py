"""A reader's process killed with SIGKILL right after set_line: reopening restores the draft."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_reading_support import (
    FAST_KDF,
    PASSWORD,
    SAMPLE,
    images_fixture,  # noqa: F401 - the images fixture
    lesion_truth,
    login,
    store_fixture,  # noqa: F401 - the store fixture
)

from readerstation.model import MeasurementState
from readerstation.reading import DicomFolderSource, ReadingSession
from readerstation.store import Store

CHILD = textwrap.dedent(
    """
    import sys, time
    from readerstation.store import KdfParams, Repository, open_store
    from readerstation.reading import ReadingSession

    url, sample, password, p0, p1, uid = sys.argv[1:7]
    kdf = KdfParams(time_cost={tc}, memory_kib={mem}, parallelism={par})
    repo = Repository.login(open_store(url), "reader1", password, kdf=kdf)
    s = ReadingSession(repo, sample)
    s.open("HCC-001", "TP0")
    s.add_lesion("T1", "target", "liver", liver_segment="VIII", typical_hcc=True)
    pt = lambda t: [float(v) for v in t.split(",")]
    s.set_line("T1", "long", pt(p0), pt(p1), uid)
    print("saved", flush=True)
    time.sleep(60)  # killed here, mid-session, nothing closed
    """
).format(tc=FAST_KDF.time_cost, mem=FAST_KDF.memory_kib, par=FAST_KDF.parallelism)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_sigkill_after_set_line_keeps_the_draft(
    store: Store, images: DicomFolderSource, tmp_path: Path
) -> None:
    t1 = lesion_truth("HCC-001", "TP0", "T1")
    p0, p1 = t1["long_axis_endpoints_lps_mm"]
    url = str(store.engine.url)
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    proc = subprocess.Popen(
        [
            sys.executable,
            str(script),
            url,
            str(SAMPLE),
            PASSWORD,
            ",".join(map(str, p0)),
            ",".join(map(str, p1)),
            t1["arterial_sop_instance_uid"],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip() == "saved", proc.stderr.read() if proc.stderr else ""
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    session = ReadingSession(login(store), images)
    read = session.open("HCC-001", "TP0")
    m = session.assessment("T1").measurement
    assert read.status.value == "draft"
    assert m.state is MeasurementState.MEASURED
    assert m.long_axis_mm == pytest.approx(t1["long_axis_mm"], abs=0.01)
    assert m.long_axis_line.sop_instance_uid == t1["arterial_sop_instance_uid"]
