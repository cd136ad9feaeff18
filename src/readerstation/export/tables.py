"""CSV and JSON exports of signed timepoint reads.

* JSON: the issue-5 "reads JSON" (:func:`readerstation.model.reads_json.reads_to_json`), which
  :func:`readerstation.model.reads_json.reads_from_json` reads back exactly.
* CSV: one row per lesion per timepoint read (:data:`CSV_COLUMNS`): the reader appears as their
  trial role (``Reader 1``), never by name; lengths in mm (empty when not measured); ``state`` is
  the measurement state of a target or new lesion, or the status of a non-target.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from readerstation.model.entities import TimepointRead
from readerstation.model.reads_json import reads_to_json

__all__ = ["CSV_COLUMNS", "save_reads_csv", "save_reads_json", "to_csv_rows"]

CSV_COLUMNS: tuple[str, ...] = (
    "subject",
    "reader_role",
    "timepoint",
    "scan_date",
    "lesion",
    "role",
    "organ",
    "liver_segment",
    "nodal",
    "state",
    "long_axis_mm",
    "short_axis_mm",
    "viable_long_axis_mm",
)
"""Columns of the CSV export, in order."""

RoleOf = Callable[[TimepointRead], str]


def _default_role(read: TimepointRead) -> str:
    return "Reader"


def _mm(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def to_csv_rows(
    reads: Iterable[TimepointRead],
    *,
    reader_role: RoleOf | Mapping[tuple[str, str], str] | None = None,
    include_dates: bool = True,
) -> list[dict[str, str]]:
    """One row per lesion of every read, in the reads' order then the lesions' order.

    Parameters
    ----------
    reads : iterable of TimepointRead
    reader_role : callable or mapping, optional
        The reader's trial role: a function of the read, or a mapping ``(subject, reader) ->
        role``; missing entries and None give ``"Reader"``.
    include_dates : bool
        False leaves ``scan_date`` empty (blinded visit dates).

    Returns
    -------
    list of dict
        Keys :data:`CSV_COLUMNS`; every value is text (lengths as Python ``repr`` of the float,
        exact).
    """
    if reader_role is None:
        role_of: RoleOf = _default_role
    elif isinstance(reader_role, Mapping):
        mapping = reader_role

        def role_of(r: TimepointRead) -> str:
            return mapping.get((r.subject.code, r.reader), "Reader")

    else:
        role_of = reader_role
    rows: list[dict[str, str]] = []
    for r in reads:
        role = role_of(r)
        date = r.timepoint.scan_date
        for a in r.lesions:
            les = a.lesion
            m = a.measurement
            if a.non_target_status is not None:
                state = a.non_target_status.value
            elif m is not None:
                state = m.state.value
            else:
                state = ""
            rows.append(
                {
                    "subject": r.subject.code,
                    "reader_role": role,
                    "timepoint": r.timepoint.label,
                    "scan_date": "" if (date is None or not include_dates) else date.isoformat(),
                    "lesion": les.label,
                    "role": les.role.value,
                    "organ": les.organ,
                    "liver_segment": "" if les.liver_segment is None else les.liver_segment.value,
                    "nodal": "true" if les.nodal else "false",
                    "state": state,
                    "long_axis_mm": _mm(None if m is None else m.long_axis_mm),
                    "short_axis_mm": _mm(None if m is None else m.short_axis_mm),
                    "viable_long_axis_mm": _mm(None if m is None else m.viable_long_axis_mm),
                }
            )
    return rows


def save_reads_csv(
    reads: Iterable[TimepointRead],
    path: str | Path,
    *,
    reader_role: RoleOf | Mapping[tuple[str, str], str] | None = None,
    include_dates: bool = True,
) -> Path:
    """Write :func:`to_csv_rows` to ``path`` (UTF-8, header row, ``\\n`` line ends)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = to_csv_rows(reads, reader_role=reader_role, include_dates=include_dates)
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out


def save_reads_json(
    reads: Iterable[TimepointRead], path: str | Path, *, include_dates: bool = True
) -> Path:
    """Write the reads JSON of issue 5 to ``path`` (UTF-8, indented)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = reads_to_json(reads, include_dates=include_dates)
    out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out
