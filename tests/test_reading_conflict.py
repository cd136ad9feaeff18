"""Two workstations of the same reader editing the same draft: no lost update, nothing lost.

Two :class:`ReadingSession` objects, each with its own login (as two workstations), open the
same timepoint of the sample trial on a real SQLite store. The second save based on an older
revision is refused with a "reload" ConcurrentEditError; the stored draft stays what the first
workstation saved; the refused edit is kept in ``session.unsaved`` (and in the audit trail) and
can be re-applied.
"""

from __future__ import annotations

import json

import pytest
from test_reading_support import (
    PASSWORD,
    images_fixture,  # noqa: F401 - the images fixture
    login,
    store_fixture,  # noqa: F401 - the store fixture
    tp_truth,
)

from readerstation.errors import ConcurrentEditError, ReadingError, ReadLockedError
from readerstation.model import ReadStatus, TimepointRead
from readerstation.reading import DicomFolderSource, ReadingSession
from readerstation.store import Store

SUBJECT = "HCC-001"


def _target(label: str) -> dict:
    return next(x for x in tp_truth(SUBJECT, "TP0")["lesions"] if x["lesion"] == label)


def _add(session: ReadingSession, label: str) -> None:
    """A liver target (the segment of HCC-001's T1 in the ground truth)."""
    session.add_lesion(
        label, "target", "liver", liver_segment=_target("T1")["segment"], typical_hcc=True
    )


def _labels(read) -> list[str]:
    return [a.lesion.label for a in read.lesions]


def _two_workstations(store: Store, images: DicomFolderSource):
    a = ReadingSession(login(store), images)
    b = ReadingSession(login(store), images)
    a.open(SUBJECT, "TP0")
    b.open(SUBJECT, "TP0")
    assert a.read.read_id == b.read.read_id and a.revision == b.revision
    return a, b


def test_second_save_of_the_same_draft_is_refused_and_nothing_is_lost(
    store: Store, images: DicomFolderSource
) -> None:
    a, b = _two_workstations(store, images)
    read_id = a.read.read_id
    _add(a, "T1")  # workstation A saves first
    stored_by_a = login(store).get_read(read_id)
    assert _labels(stored_by_a) == ["T1"]
    with pytest.raises(ConcurrentEditError, match="reload") as info:
        _add(b, "T2")  # B edited the draft as it was before A's save
    assert f"{SUBJECT}/TP0" in str(info.value)  # names the read
    # A's content stays; B's edit is kept, and B now shows what is stored
    assert login(store).get_read(read_id).to_dict() == stored_by_a.to_dict()
    assert b.unsaved is not None and _labels(b.unsaved) == ["T2"]
    assert _labels(b.read) == ["T1"] and b.revision == a.revision
    # the refusal is audited with the refused content
    admin = login(store, "admin")
    refused = [
        e for e in admin.list_audit() if e.action == "read.save_draft" and e.outcome == "refused"
    ]
    assert len(refused) == 1 and "reload" in refused[0].detail
    after = refused[0].after if isinstance(refused[0].after, dict) else json.loads(refused[0].after)
    assert _labels(TimepointRead.from_dict(after)) == ["T2"]
    # B edits on top of A's draft now: saved normally
    _add(b, "T3")
    assert _labels(login(store).get_read(read_id)) == ["T1", "T3"]
    assert b.unsaved is not None  # still there until re-applied or discarded
    # A is now behind: its next edit is refused in turn, then it sees B's draft
    with pytest.raises(ConcurrentEditError, match="reload"):
        a.remove_lesion("T1")
    assert _labels(a.read) == ["T1", "T3"] and a.unsaved is not None and a.unsaved.lesions == ()
    a.discard_unsaved()
    assert a.unsaved is None
    # B chooses its refused version knowingly: it replaces the stored draft
    b.reapply_unsaved()
    assert b.unsaved is None
    assert _labels(login(store).get_read(read_id)) == ["T2"]
    with pytest.raises(ReadingError, match="no refused edit"):
        b.reapply_unsaved()
    assert admin.verify_audit().intact


def test_signing_content_another_workstation_changed_is_refused(
    store: Store, images: DicomFolderSource
) -> None:
    a, b = _two_workstations(store, images)
    _add(a, "T1")
    les = _target("T1")
    uid = les["arterial_sop_instance_uid"]
    a.set_line("T1", "long", *les["long_axis_endpoints_lps_mm"], uid)
    if les["viable_long_axis_mm"] > 0:
        a.set_line("T1", "viable", *les["viable_endpoints_lps_mm"], uid)
    # B has not seen A's lesion: it may not sign it
    with pytest.raises(ConcurrentEditError, match="reload"):
        b.sign(PASSWORD)
    assert login(store).get_read(a.read.read_id).status is ReadStatus.DRAFT
    assert b.read.to_dict() == a.read.to_dict()  # B reloaded: it shows A's lesion now
    signed = b.sign(PASSWORD)  # reviewed: signing now works
    assert signed.status is ReadStatus.SIGNED
    # A's next edit meets a signed read: refused as a conflict, A then shows it signed
    with pytest.raises(ConcurrentEditError, match="reload"):
        a.set_state("T1", "too_small")
    assert a.read.is_signed and a.unsaved is not None
    with pytest.raises(ReadLockedError):
        a.reapply_unsaved()


def test_two_workstations_opening_a_new_draft_both_get_it(
    store: Store, images: DicomFolderSource
) -> None:
    """Opening creates the draft; the second workstation to open adopts the first's."""
    a = ReadingSession(login(store), images)
    b = ReadingSession(login(store), images)
    a.open(SUBJECT, "TP0")
    b.open(SUBJECT, "TP0")
    assert a.read.read_id == b.read.read_id
    reads = login(store).list_reads(SUBJECT)
    assert [(r.timepoint, r.version) for r in reads] == [("TP0", 1)]
