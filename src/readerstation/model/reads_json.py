"""The "reads JSON" format of dual reading (issue 5) to and from :class:`TimepointRead` objects.

The format groups timepoint reads by subject and reader::

    {"reads": [{"subject": "SIM-001", "reader": "reader1", "treatment_start": "2024-01-08",
                "timepoints": [{"label": "TP0", "date": "2024-01-02", "series_uid": "1.2.3",
                                "lesions": [{"lesion": "T1", "role": "target", "organ": "liver",
                                             "nodal": false, "long_axis_mm": 42.0,
                                             "short_axis_mm": null, "viable_long_axis_mm": 30.0,
                                             "state": "measured"}],
                                "non_targets": [{"lesion": "NT1", "status": "present"}],
                                "new_lesions": "none"}]}]}

``lesions`` holds target and new lesions (``role`` ``target`` or ``new``) with ``state`` one of
``measured``, ``too_small``, ``absent``, ``not_evaluated`` (``null`` for a new lesion without a
measurement); non-target lesions go in ``non_targets`` with the response engine's status words
(:class:`~readerstation.criteria.enums.NonTargetStatus`); ``new_lesions`` is a
:class:`~readerstation.criteria.enums.NewLesionCall` word.

Optional keys, written by :func:`reads_to_json` so that a round trip is exact and read back by
:func:`reads_from_json`:

* lesion: ``long_axis_points``, ``short_axis_points``, ``viable_points`` (two LPS points
  ``[[x, y, z], [x, y, z]]`` in mm each) with ``sop_instance_uid`` (and
  ``short_axis_sop_instance_uid`` / ``viable_sop_instance_uid`` when a line was drawn on another
  image), ``tracking_id`` (default: the label), ``location``, ``liver_segment`` (liver only; may be
  left out), ``typical_hcc`` (left out: not recorded), ``kind``, ``cytology_confirmed``;
* non-target: ``organ`` (default ``"unspecified"``; ``liver_segment`` for a liver one, optional),
  ``tracking_id``, ``location``, ``liver_segment``, ``nodal``, ``typical_hcc``, ``kind``,
  ``cytology_confirmed``;
* timepoint: ``study_uid``, ``phase``, ``version`` (when > 1), ``signed_at`` (ISO UTC time),
  ``status`` (only ``"draft"`` is written; a read without it is signed).

Unknown keys are refused (a misspelt key must not silently drop a measurement).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, TypeVar

from readerstation.criteria.enums import LesionKind, NewLesionCall, NonTargetStatus
from readerstation.errors import ModelError
from readerstation.model.entities import (
    Lesion,
    LesionAssessment,
    LinePoints,
    Measurement,
    Subject,
    Timepoint,
    TimepointRead,
)
from readerstation.model.enums import LesionRole, MeasurementState, ReadStatus

__all__ = ["DEFAULT_NON_TARGET_ORGAN", "reads_from_json", "reads_to_json"]

DEFAULT_NON_TARGET_ORGAN = "unspecified"
"""Organ of a non-target lesion given without one (the response engine does not use it)."""

_E = TypeVar("_E", bound=Enum)

_READ_KEYS = frozenset({"subject", "reader", "treatment_start", "timepoints"})
_TP_KEYS = frozenset(
    {
        "label",
        "date",
        "series_uid",
        "lesions",
        "non_targets",
        "new_lesions",
        "study_uid",
        "phase",
        "version",
        "signed_at",
        "status",
    }
)
_LESION_COMMON = frozenset(
    {
        "lesion",
        "organ",
        "nodal",
        "tracking_id",
        "location",
        "liver_segment",
        "typical_hcc",
        "kind",
        "cytology_confirmed",
        "position",
    }
)
_LESION_KEYS = _LESION_COMMON | {
    "role",
    "long_axis_mm",
    "short_axis_mm",
    "viable_long_axis_mm",
    "state",
    "long_axis_points",
    "short_axis_points",
    "viable_points",
    "sop_instance_uid",
    "short_axis_sop_instance_uid",
    "viable_sop_instance_uid",
}
_NT_KEYS = _LESION_COMMON | {"status"}
_DIGITS = re.compile(r"(\d+)")


# ------------------------------------------------------------------------------------ writing


def reads_to_json(reads: Iterable[TimepointRead], *, include_dates: bool = True) -> dict[str, Any]:
    """Timepoint reads as the reads JSON format.

    Parameters
    ----------
    reads : iterable of TimepointRead
        Reads of any subjects and readers. They are grouped by (subject, reader) in first-seen
        order; within a group timepoints are ordered by scan date, then label (``TP2`` before
        ``TP10``), then version.
    include_dates : bool
        False writes ``"date": null`` and leaves ``treatment_start`` out (a blinded reader whose
        charter hides visit dates).

    Returns
    -------
    dict
        ``{"reads": [...]}``, ready for :func:`json.dumps`.

    Raises
    ------
    ModelError
        An item is not a TimepointRead, or two reads of one group give different
        treatment starts.
    """
    groups: dict[tuple[str, str], list[TimepointRead]] = {}
    for r in reads:
        if not isinstance(r, TimepointRead):
            raise ModelError(f"reads_to_json: expected TimepointRead items, received {r!r}.")
        groups.setdefault((r.subject.code, r.reader), []).append(r)
    out: list[dict[str, Any]] = []
    for (subject, reader), items in groups.items():
        starts = {r.subject.treatment_start for r in items}
        if len(starts) > 1:
            raise ModelError(
                f"reads_to_json: the reads of {subject} by {reader} give different treatment "
                f"starts ({', '.join(sorted(str(s) for s in starts))}); fix the subject's record."
            )
        entry: dict[str, Any] = {"subject": subject, "reader": reader}
        start = items[0].subject.treatment_start
        if include_dates and start is not None:
            entry["treatment_start"] = start.isoformat()
        items.sort(key=_order)
        entry["timepoints"] = [_timepoint_to_json(r, include_dates) for r in items]
        out.append(entry)
    return {"reads": out}


def _natural(label: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(label))


def _order(r: TimepointRead) -> tuple[Any, ...]:
    d = r.timepoint.scan_date
    return (d is None, d or dt.date.min, _natural(r.timepoint.label), r.version)


def _timepoint_to_json(r: TimepointRead, include_dates: bool) -> dict[str, Any]:
    tp = r.timepoint
    lesions: list[dict[str, Any]] = []
    non_targets: list[dict[str, Any]] = []
    keep_order = tuple(r.lesions) != _ordered(list(r.lesions))
    for k, a in enumerate(r.lesions):
        if a.lesion.role is LesionRole.NON_TARGET:
            item = _non_target_to_json(a)
            non_targets.append(item)
        else:
            item = _lesion_to_json(a)
            lesions.append(item)
        if keep_order:  # the read interleaves roles: keep its order for an exact round trip
            item["position"] = k
    out: dict[str, Any] = {
        "label": tp.label,
        "date": tp.scan_date.isoformat() if include_dates and tp.scan_date else None,
        "series_uid": tp.series_uid,
        "lesions": lesions,
        "non_targets": non_targets,
        "new_lesions": r.new_lesion_call.value,
    }
    if tp.study_uid is not None:
        out["study_uid"] = tp.study_uid
    if tp.phase.value != "unknown":
        out["phase"] = tp.phase.value
    if r.version != 1:
        out["version"] = r.version
    if r.signed_at is not None:
        out["signed_at"] = r.signed_at.isoformat()
    if r.status is ReadStatus.DRAFT:
        out["status"] = ReadStatus.DRAFT.value
    return out


def _common_to_json(a: LesionAssessment, out: dict[str, Any]) -> None:
    les = a.lesion
    if les.tracking_id != les.label:
        out["tracking_id"] = les.tracking_id
    if les.location:
        out["location"] = les.location
    if les.liver_segment is not None:
        out["liver_segment"] = les.liver_segment.value
    if les.typical_hcc is not None:
        out["typical_hcc"] = les.typical_hcc
    if les.kind is not LesionKind.LESION:
        out["kind"] = les.kind.value
    if a.cytology_confirmed:
        out["cytology_confirmed"] = True


def _lesion_to_json(a: LesionAssessment) -> dict[str, Any]:
    les = a.lesion
    m = a.measurement
    out: dict[str, Any] = {
        "lesion": les.label,
        "role": les.role.value,
        "organ": les.organ,
        "nodal": les.nodal,
        "long_axis_mm": None if m is None else m.long_axis_mm,
        "short_axis_mm": None if m is None else m.short_axis_mm,
        "viable_long_axis_mm": None if m is None else m.viable_long_axis_mm,
        "state": None if m is None else m.state.value,
    }
    if m is not None:
        lines = (
            ("long_axis_points", "sop_instance_uid", m.long_axis_line),
            ("short_axis_points", "short_axis_sop_instance_uid", m.short_axis_line),
            ("viable_points", "viable_sop_instance_uid", m.viable_line),
        )
        main_uid: str | None = None
        for points_key, uid_key, line in lines:
            if line is None:
                continue
            out[points_key] = line.to_list()
            if main_uid is None:
                main_uid = line.sop_instance_uid
                out["sop_instance_uid"] = main_uid
            elif line.sop_instance_uid != main_uid:
                out[uid_key] = line.sop_instance_uid
    _common_to_json(a, out)
    return out


def _non_target_to_json(a: LesionAssessment) -> dict[str, Any]:
    les = a.lesion
    status = a.non_target_status
    out: dict[str, Any] = {"lesion": les.label, "status": None if status is None else status.value}
    if les.organ != DEFAULT_NON_TARGET_ORGAN:
        out["organ"] = les.organ
    if les.nodal:
        out["nodal"] = True
    _common_to_json(a, out)
    return out


# ------------------------------------------------------------------------------------ reading


class _Where:
    """A JSON location (``reads[2].timepoints[1].lesions[0]``) for error messages."""

    def __init__(self, path: str) -> None:
        self.path = path

    def at(self, key: str | int) -> _Where:
        return _Where(f"{self.path}[{key}]" if isinstance(key, int) else f"{self.path}.{key}")

    def fail(self, expected: str, received: object) -> ModelError:
        return ModelError(f"{self.path}: expected {expected}, received {received!r}.")


def _obj(
    value: object, where: _Where, keys: frozenset[str], required: tuple[str, ...]
) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise where.fail("an object", value)
    unknown = sorted(str(k) for k in value if k not in keys)
    if unknown:
        raise ModelError(
            f"{where.path}: unknown key(s) {', '.join(repr(k) for k in unknown)}; expected keys "
            f"from {', '.join(sorted(keys))}. Fix the spelling or remove them."
        )
    for key in required:
        if key not in value:
            raise ModelError(f"{where.path}.{key}: missing; every item needs it.")
    return dict(value)


def _list(value: object, where: _Where) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise where.fail("a list", value)
    return list(value)


def _word(cls: type[_E], value: object, where: _Where) -> _E:
    try:
        return cls(value)
    except ValueError:
        words = [m.value for m in cls]
        expected = ", ".join(str(w) for w in words[:-1]) + f" or {words[-1]}"
        raise where.fail(expected, value) from None


def _text(value: object, where: _Where, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise where.fail("a non-empty string" + (" or null" if optional else ""), value)
    return value


def _flag(value: object, where: _Where, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, bool):
        raise where.fail("true or false" + (" or null" if optional else ""), value)
    return value


def _iso_date(value: object, where: _Where) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise where.fail("an ISO date YYYY-MM-DD or null", value)


def _iso_time(value: object, where: _Where) -> dt.datetime:
    if isinstance(value, str):
        try:
            t = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if t.utcoffset() == dt.timedelta(0):
                return t
    raise where.fail("an ISO UTC time such as '2024-03-01T10:15:00+00:00'", value)


def _line(d: Mapping[str, Any], where: _Where, points_key: str, uid_key: str) -> LinePoints | None:
    pts = d.get(points_key)
    if pts is None:
        return None
    w = where.at(points_key)
    if (
        not isinstance(pts, list | tuple)
        or len(pts) != 2
        or not all(
            isinstance(p, list | tuple)
            and len(p) == 3
            and all(isinstance(c, int | float) and not isinstance(c, bool) for c in p)
            for p in pts
        )
    ):
        raise w.fail("two LPS points [[x, y, z], [x, y, z]] in mm", pts)
    uid = d.get(uid_key, d.get("sop_instance_uid"))
    if uid is None:
        raise ModelError(
            f"{where.path}.sop_instance_uid: {points_key} is given without the UID of the image "
            "it was drawn on; add sop_instance_uid."
        )
    try:
        return LinePoints(tuple(pts[0]), tuple(pts[1]), uid)
    except ModelError as exc:
        raise ModelError(f"{w.path}: {exc}") from None


def _lesion_from_json(value: object, where: _Where, *, non_target: bool) -> LesionAssessment:
    d = _obj(
        value,
        where,
        _NT_KEYS if non_target else _LESION_KEYS,
        ("lesion", "status") if non_target else ("lesion", "role", "organ", "state"),
    )
    label = _text(d["lesion"], where.at("lesion"))
    if non_target:
        role = LesionRole.NON_TARGET
        status = _word(NonTargetStatus, d["status"], where.at("status"))
        organ = _text(d.get("organ", DEFAULT_NON_TARGET_ORGAN), where.at("organ"))
    else:
        role = _word(LesionRole, d["role"], where.at("role"))
        if role is LesionRole.NON_TARGET:
            raise ModelError(
                f"{where.path}.role: expected target or new, received 'non_target'; non-target "
                "lesions go in the timepoint's non_targets list."
            )
        status = None
        organ = _text(d["organ"], where.at("organ"))
    kind = _word(LesionKind, d.get("kind", LesionKind.LESION.value), where.at("kind"))
    try:
        lesion = Lesion(
            tracking_id=_text(d.get("tracking_id", label), where.at("tracking_id")),
            label=label,
            role=role,
            organ=organ,
            location=d.get("location", ""),
            liver_segment=d.get("liver_segment"),
            nodal=_flag(d.get("nodal", False), where.at("nodal")),
            typical_hcc=_flag(d.get("typical_hcc"), where.at("typical_hcc"), optional=True),
            kind=kind,
        )
    except ModelError as exc:
        raise ModelError(f"{where.path}: {exc}") from None
    measurement = None
    if not non_target:
        state = d["state"]
        if state is None:
            if role is LesionRole.TARGET:
                raise where.at("state").fail(
                    "measured, too_small, absent or not_evaluated (a target needs a state)", None
                )
            extra = [
                k
                for k in (
                    "long_axis_mm",
                    "short_axis_mm",
                    "viable_long_axis_mm",
                    "long_axis_points",
                )
                if d.get(k) is not None
            ]
            if extra:
                raise ModelError(
                    f"{where.path}.state: null (no measurement) contradicts {', '.join(extra)}; "
                    "set state to 'measured' or remove the lengths."
                )
        else:
            st = _word(MeasurementState, state, where.at("state"))
            try:
                measurement = Measurement(
                    st,
                    d.get("long_axis_mm"),
                    d.get("short_axis_mm"),
                    d.get("viable_long_axis_mm"),
                    _line(d, where, "long_axis_points", "sop_instance_uid"),
                    _line(d, where, "short_axis_points", "short_axis_sop_instance_uid"),
                    _line(d, where, "viable_points", "viable_sop_instance_uid"),
                )
            except ModelError as exc:
                raise ModelError(f"{where.path}: {exc}") from None
    try:
        return LesionAssessment(
            lesion=lesion,
            measurement=measurement,
            non_target_status=status,
            cytology_confirmed=_flag(
                d.get("cytology_confirmed", False), where.at("cytology_confirmed")
            ),
        )
    except ModelError as exc:
        raise ModelError(f"{where.path}: {exc}") from None


def reads_from_json(data: Any, *, signed_at: dt.datetime | None = None) -> list[TimepointRead]:
    """Timepoint reads from the reads JSON format (inverse of :func:`reads_to_json`).

    Parameters
    ----------
    data : dict
        The parsed JSON document, ``{"reads": [...]}``.
    signed_at : datetime.datetime, optional
        UTC signing time of reads that carry no ``signed_at`` (an import of another system's
        reads); default: now.

    Returns
    -------
    list of TimepointRead
        Signed reads (drafts when a timepoint says ``"status": "draft"``), in file order, with
        ``read_id`` None.

    Raises
    ------
    ModelError
        The message names the JSON location of the first problem, e.g.
        ``reads[2].timepoints[1].lesions[0].state: expected measured, too_small, absent or
        not_evaluated, received 'gone'.``
    """
    root = _Where("reads")
    if not isinstance(data, Mapping) or "reads" not in data:
        raise ModelError(
            f"reads JSON: expected an object with a 'reads' list, received "
            f"{type(data).__name__}; see the format in readerstation.model.reads_json."
        )
    if signed_at is None:
        signed_at = dt.datetime.now(dt.UTC)
    elif not isinstance(signed_at, dt.datetime) or signed_at.utcoffset() != dt.timedelta(0):
        raise ModelError(
            f"reads_from_json: signed_at must be a UTC datetime, received {signed_at!r}."
        )
    out: list[TimepointRead] = []
    seen_groups: set[tuple[str, str]] = set()
    for i, item in enumerate(_list(data["reads"], root)):
        where = root.at(i)
        d = _obj(item, where, _READ_KEYS, ("subject", "reader", "timepoints"))
        subject_code = _text(d["subject"], where.at("subject"))
        reader = _text(d["reader"], where.at("reader"))
        if (subject_code, reader) in seen_groups:
            raise ModelError(
                f"{where.path}: subject {subject_code!r} by reader {reader!r} appears twice; put "
                "all of their timepoints in one entry."
            )
        seen_groups.add((subject_code, reader))
        try:
            subject = Subject(
                subject_code, _iso_date(d.get("treatment_start"), where.at("treatment_start"))
            )
        except ModelError as exc:
            raise ModelError(f"{where.path}: {exc}") from None
        seen_tps: set[tuple[str, int]] = set()
        for j, tp_item in enumerate(_list(d["timepoints"], where.at("timepoints"))):
            tw = where.at("timepoints").at(j)
            t = _obj(tp_item, tw, _TP_KEYS, ("label",))
            version = t.get("version", 1)
            if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                raise tw.at("version").fail("an integer >= 1", version)
            status = _word(ReadStatus, t.get("status", ReadStatus.SIGNED.value), tw.at("status"))
            try:
                timepoint = Timepoint(
                    label=t["label"],
                    scan_date=_iso_date(t.get("date"), tw.at("date")),
                    study_uid=t.get("study_uid"),
                    series_uid=t.get("series_uid"),
                    phase=t.get("phase", "unknown"),
                )
            except ModelError as exc:
                raise ModelError(f"{tw.path}: {exc}") from None
            if (timepoint.label, version) in seen_tps:
                raise ModelError(
                    f"{tw.path}.label: {timepoint.label!r} (version {version}) appears twice for "
                    f"{subject_code} by {reader}; keep one, or number amendments by 'version'."
                )
            seen_tps.add((timepoint.label, version))
            lesions: list[LesionAssessment] = []
            positions: list[object] = []
            for key, is_nt in (("lesions", False), ("non_targets", True)):
                for k, x in enumerate(_list(t.get(key, []), tw.at(key))):
                    lesions.append(_lesion_from_json(x, tw.at(key).at(k), non_target=is_nt))
                    positions.append(x.get("position"))
            call = _word(NewLesionCall, t.get("new_lesions", "none"), tw.at("new_lesions"))
            if status is ReadStatus.SIGNED:
                signed = (
                    _iso_time(t["signed_at"], tw.at("signed_at"))
                    if t.get("signed_at") is not None
                    else signed_at
                )
            elif t.get("signed_at") is not None:
                raise ModelError(f"{tw.path}.signed_at: a draft has no signing time; remove it.")
            else:
                signed = None
            try:
                out.append(
                    TimepointRead(
                        subject=subject,
                        timepoint=timepoint,
                        reader=reader,
                        lesions=_positioned(lesions, positions, tw),
                        new_lesion_call=call,
                        status=status,
                        version=version,
                        signed_at=signed,
                    )
                )
            except ModelError as exc:
                raise ModelError(f"{tw.path}: {exc}") from None
    return out


def _positioned(
    lesions: list[LesionAssessment], positions: list[object], where: _Where
) -> tuple[LesionAssessment, ...]:
    """The read's lesions in their ``position`` order when every item gives one, else by role."""
    if all(p is None for p in positions):
        return _ordered(lesions)
    if sorted(p for p in positions if isinstance(p, int) and not isinstance(p, bool)) != list(
        range(len(lesions))
    ):
        raise ModelError(
            f"{where.path}: 'position' must be given on every lesion and non-target as 0..{len(lesions) - 1} "
            f"(each once), received {positions!r}; give all positions or none."
        )
    order = sorted(range(len(lesions)), key=lambda k: positions[k])  # type: ignore[arg-type,return-value]
    return tuple(lesions[k] for k in order)


def _ordered(lesions: list[LesionAssessment]) -> tuple[LesionAssessment, ...]:
    """Targets, then non-targets, then new lesions (the order the reading session keeps)."""
    rank = {LesionRole.TARGET: 0, LesionRole.NON_TARGET: 1, LesionRole.NEW: 2}
    return tuple(sorted(lesions, key=lambda a: rank[a.lesion.role]))
