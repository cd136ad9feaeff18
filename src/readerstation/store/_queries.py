"""Small query helpers shared by the Repository and its dual-reading mixin."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from readerstation.model.enums import ReadStatus
from readerstation.store.schema import ReadRow, TimepointRow

__all__ = ["latest_signed_row", "timepoint_order"]


def timepoint_order(tp: TimepointRow) -> tuple[Any, ...]:
    """Sort key of a subject's timepoints: scan date (undated last), then label."""
    return (tp.scan_date is None, tp.scan_date or dt.date.min, tp.label)


def latest_signed_row(s: Session, timepoint_id: int, reader_id: int) -> ReadRow | None:
    """The reader's latest signed version of a timepoint's read, or None."""
    return s.execute(
        select(ReadRow)
        .where(
            ReadRow.timepoint_id == timepoint_id,
            ReadRow.reader_id == reader_id,
            ReadRow.status == ReadStatus.SIGNED.value,
        )
        .order_by(ReadRow.read_version.desc())
        .limit(1)
    ).scalar_one_or_none()
