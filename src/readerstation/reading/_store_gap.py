"""What the Repository does not offer a reader yet: the timepoints of their assigned subjects.

``Repository`` lets an admin add subjects, timepoints and assignments, and a reader list their
*reads*, but a reader cannot list the timepoints they are assigned to read (a worklist needs the
timepoints not started yet) nor fetch a timepoint's scan date and StudyInstanceUID. Until the
store grows ``Repository.list_assigned_timepoints()``, this module runs that one read-only query
with the repository's own user id, filtered by the reader's assignments exactly as
``Repository._assigned_timepoint`` does (blinding: only subjects assigned to this user).
"""

from __future__ import annotations

from sqlalchemy import select

from readerstation.dicom.phase import Phase
from readerstation.errors import AccessDenied
from readerstation.model.entities import Subject, Timepoint
from readerstation.model.enums import UserRole
from readerstation.store.repository import Repository
from readerstation.store.schema import Assignment, SubjectRow, TimepointRow

__all__ = ["list_assigned_timepoints"]


def list_assigned_timepoints(repo: Repository) -> list[tuple[Subject, Timepoint]]:
    """Every timepoint of every subject assigned to the repository's reader.

    Returns
    -------
    list of (Subject, Timepoint)
        Ordered by subject code, then scan date, then label.

    Raises
    ------
    AccessDenied
        The user is not a reader.
    """
    if repo.user.role is not UserRole.READER:
        raise AccessDenied(
            f"worklist: user {repo.user.name!r} has role {repo.user.role.value!r}; a worklist is "
            "for readers. Log in as a reader."
        )
    # private attributes on purpose: see the module docstring
    store = repo._store
    user_id = repo._user_id
    q = (
        select(SubjectRow, TimepointRow)
        .join(Assignment, Assignment.subject_id == SubjectRow.id)
        .join(TimepointRow, TimepointRow.subject_id == SubjectRow.id)
        .where(Assignment.reader_id == user_id)
        .order_by(SubjectRow.code, TimepointRow.scan_date, TimepointRow.label)
    )
    out: list[tuple[Subject, Timepoint]] = []
    with store.sessions.begin() as s:
        for subj, tp in s.execute(q):
            out.append(
                (
                    Subject(subj.code, subj.treatment_start),
                    Timepoint(tp.label, tp.scan_date, tp.study_uid, tp.series_uid, Phase(tp.phase)),
                )
            )
    return out
