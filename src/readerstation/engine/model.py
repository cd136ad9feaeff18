"""Typed inputs of the response engine, parsed from ``timeline.json``.

The format (one object per subject; the first assessment is the baseline)::

    {"subjects": [{"subject": "S01", "treatment_start": "2022-01-10",
       "death_date": null, "last_known_alive": "2023-06-30",
       "assessments": [
         {"date": "2022-01-05",
          "targets": [{"lesion": "T1", "organ": "liver", "nodal": false, "diameter_mm": 52.0}],
          "non_targets": [{"lesion": "NT1", "status": "present"}],
          "new_lesions": "none"},
         {"date": "2022-02-20", "overall_response": "NE"}]}]}

``diameter_mm`` is what the chosen criteria sum (mRECIST: the viable diameter): a number >= 0 in
mm, ``"too_small"``, ``"absent"`` or ``null`` (not evaluated). A split lesion is given as several
entries with the same ``lesion`` id (their diameters are added); a lesion that coalesced into
another carries ``"merged_into": "T1"`` and counts 0 mm (RECIST 1.1 appendix I). An assessment
with only ``date`` and ``overall_response`` is a timepoint response assessed elsewhere (SDTM RS).

Every error names the subject, the assessment (1-based, with its date) and the field.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from math import isfinite as _isfinite
from pathlib import Path
from typing import Any

from readerstation.criteria.enums import (
    DiameterCall,
    LesionKind,
    NewLesionCall,
    NonTargetStatus,
    Response,
)
from readerstation.errors import CriteriaError

__all__ = [
    "Assessment",
    "NewLesion",
    "NonTargetAssessment",
    "SubjectTimeline",
    "TargetMeasurement",
    "Timeline",
    "load_timeline",
    "pause_gc",
]

Diameter = float | DiameterCall | None


@dataclass(frozen=True, slots=True)
class TargetMeasurement:
    """One target lesion's measurement at one assessment.

    Attributes
    ----------
    lesion : str
        Tracking id, the same at every assessment (``"T1"``).
    organ : str
        Organ (``"liver"`` counts as intrahepatic; ``"porta_hepatis"`` for porta hepatis nodes;
        compared case-insensitively, spaces and hyphens as underscores).
    nodal : bool
        Lymph node: ``diameter_mm`` is its short axis.
    diameter_mm : float, DiameterCall or None
        Diameter in mm (>= 0), ``TOO_SMALL``, ``ABSENT``, or None (not evaluated).
    merged_into : str or None
        Id of the target this lesion coalesced into (it then counts 0 mm).
    """

    lesion: str
    organ: str
    nodal: bool
    diameter_mm: Diameter
    merged_into: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.lesion, str) or not self.lesion:
            raise CriteriaError(f"lesion: expected a non-empty id, received {self.lesion!r}.")
        d = self.diameter_mm
        if d is not None and type(d) is not float and not isinstance(d, DiameterCall):
            raise CriteriaError(
                f"diameter_mm: expected a finite number >= 0 (mm), 'too_small', 'absent' or "
                f"null, received {d!r}."
            )
        if type(d) is float and not (d >= 0.0 and _isfinite(d)):
            raise CriteriaError(
                f"diameter_mm: expected a finite number >= 0 (mm), 'too_small', 'absent' or "
                f"null, received {d!r}."
            )


@dataclass(frozen=True, slots=True)
class NonTargetAssessment:
    """One non-target lesion's status at one assessment (``kind`` per mRECIST's special cases)."""

    lesion: str
    status: NonTargetStatus
    kind: LesionKind = LesionKind.LESION
    cytology_confirmed: bool = False


@dataclass(frozen=True, slots=True)
class NewLesion:
    """A new lesion given in detail (mRECIST: size and typical HCC pattern decide the call)."""

    lesion: str
    organ: str = "liver"
    kind: LesionKind = LesionKind.LESION
    diameter_mm: float | None = None
    typical_hcc: bool | None = None
    cytology_confirmed: bool = False
    equivocal: bool = False


@dataclass(frozen=True, slots=True)
class Assessment:
    """One imaging assessment: lesion data, or only a timepoint response assessed elsewhere.

    ``response_only`` assessments carry ``overall_response`` (None = not done, counted NE) and no
    lesion data; the others carry targets, non-targets and new lesions.
    """

    date: dt.date
    targets: tuple[TargetMeasurement, ...] = ()
    non_targets: tuple[NonTargetAssessment, ...] = ()
    new_lesions: NewLesionCall | tuple[NewLesion, ...] = NewLesionCall.NONE
    overall_response: Response | None = None
    response_only: bool = False

    def __post_init__(self) -> None:
        if self.response_only and (self.targets or self.non_targets):
            raise CriteriaError(
                "assessment: a response-only assessment carries no lesion data; give either "
                "'overall_response' or targets/non_targets, not both."
            )


@dataclass(frozen=True, slots=True)
class SubjectTimeline:
    """A subject's dates and assessments (the first assessment is the baseline)."""

    subject: str
    treatment_start: dt.date
    assessments: tuple[Assessment, ...]
    death_date: dt.date | None = None
    last_known_alive: dt.date | None = None

    def __post_init__(self) -> None:
        if not self.assessments:
            raise CriteriaError(
                f"subject {self.subject}, field assessments: expected at least the baseline "
                "assessment, received none."
            )
        for k in range(1, len(self.assessments)):
            if self.assessments[k].date <= self.assessments[k - 1].date:
                raise CriteriaError(
                    f"subject {self.subject}, assessment {k + 1} ({self.assessments[k].date}), "
                    f"field date: expected a date after the previous assessment "
                    f"({self.assessments[k - 1].date}), received {self.assessments[k].date}; "
                    "list assessments in date order without duplicates."
                )
        for field, value in (
            ("death_date", self.death_date),
            ("last_known_alive", self.last_known_alive),
        ):
            if value is not None and value < self.treatment_start:
                raise CriteriaError(
                    f"subject {self.subject}, field {field}: expected on or after "
                    f"treatment_start ({self.treatment_start}), received {value}; fix the date "
                    "(survival times are counted from treatment start)."
                )
        last = self.assessments[-1].date
        if self.death_date is not None and self.death_date < last:
            raise CriteriaError(
                f"subject {self.subject}, field death_date: expected on or after the last "
                f"assessment ({last}), received {self.death_date}."
            )
        if (
            self.death_date is not None
            and self.last_known_alive is not None
            and self.last_known_alive > self.death_date
        ):
            raise CriteriaError(
                f"subject {self.subject}, field last_known_alive: expected on or before "
                f"death_date ({self.death_date}), received {self.last_known_alive}."
            )

    @property
    def baseline(self) -> Assessment:
        """The first assessment."""
        return self.assessments[0]

    @property
    def response_only(self) -> bool:
        """True when the baseline carries no lesion data (responses assessed elsewhere)."""
        return self.assessments[0].response_only


@dataclass(frozen=True, slots=True)
class Timeline:
    """All subjects of a trial; subject ids are unique."""

    subjects: tuple[SubjectTimeline, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for s in self.subjects:
            if s.subject in seen:
                raise CriteriaError(
                    f"subject {s.subject}, field subject: expected unique subject ids, received "
                    "it twice; merge the two entries."
                )
            seen.add(s.subject)

    def __repr__(self) -> str:
        n_ass = sum(len(s.assessments) for s in self.subjects)
        return f"Timeline({len(self.subjects)} subjects, {n_ass} assessments)"

    @classmethod
    def from_json(cls, data: Any) -> Timeline:
        """Parse the decoded JSON of a timeline; raise :class:`CriteriaError` on invalid input."""
        with pause_gc():
            return _parse_timeline(data)


@contextmanager
def pause_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects.

    Parsing or deriving a large trial allocates hundreds of thousands of small objects with no
    reference cycles; the collector's repeated passes over them cost more than the work itself.
    Reference counting still frees everything; the previous state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_timeline(path: str | Path) -> Timeline:
    """Read and parse a ``timeline.json`` file.

    Raises
    ------
    CriteriaError
        When the file is not JSON or a field is invalid (the message names subject, assessment
        and field).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CriteriaError(
            f"timeline {p}: cannot be read ({exc.strerror}); check the path."
        ) from exc
    try:
        with pause_gc():
            data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CriteriaError(
            f"timeline {p}: expected JSON, received invalid JSON at line {exc.lineno} column "
            f"{exc.colno} ({exc.msg}); fix the file."
        ) from exc
    return Timeline.from_json(data)


# --------------------------------------------------------------------------------------------
# Parsing


class _Where:
    __slots__ = ("assessment", "date", "subject")

    def __init__(self, subject: str, assessment: int | None = None, date: object = None) -> None:
        self.subject = subject
        self.assessment = assessment
        self.date = date

    def fail(self, field: str, expected: str, received: object) -> CriteriaError:
        where = f"subject {self.subject}"
        if self.assessment is not None:
            where += f", assessment {self.assessment}"
            if self.date is not None:
                where += f" ({self.date})"
        return CriteriaError(
            f"{where}, field {field}: expected {expected}, received {received!r}; fix this "
            "field in the timeline."
        )


def _date(value: object, where: _Where, field: str, *, nullable: bool) -> dt.date | None:
    if value is None and nullable:
        return None
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise where.fail(field, "an ISO date YYYY-MM-DD" + (" or null" if nullable else ""), value)


def _required_date(value: object, where: _Where, field: str) -> dt.date:
    parsed = _date(value, where, field, nullable=False)
    if parsed is None:  # pragma: no cover - _date raises first
        raise where.fail(field, "an ISO date YYYY-MM-DD", value)
    return parsed


def _str(value: object, where: _Where, field: str) -> str:
    if isinstance(value, str) and value.strip():
        return value
    raise where.fail(field, "a non-empty string", value)


def _bool(value: object, where: _Where, field: str) -> bool:
    if isinstance(value, bool):
        return value
    raise where.fail(field, "true or false", value)


def _number(value: object) -> float | None:
    t = type(value)
    if t is float:
        f = value
    elif t is int:
        f = float(value)  # type: ignore[arg-type]
    else:
        return None
    return f if _isfinite(f) else None  # type: ignore[arg-type,return-value]


_DIAMETER_WORDS = {"too_small": DiameterCall.TOO_SMALL, "absent": DiameterCall.ABSENT}
_NT_STATUS = {s.value: s for s in NonTargetStatus}
_NEW_CALL = {c.value: c for c in NewLesionCall}
_KINDS = {k.value: k for k in LesionKind}
_RESPONSES = {r.value: r for r in Response}


def _diameter(value: object, where: _Where, field: str) -> Diameter:
    if value is None:
        return None
    if isinstance(value, str):
        call = _DIAMETER_WORDS.get(value)
        if call is not None:
            return call
    f = _number(value)
    if f is not None and f >= 0.0:
        return f
    raise where.fail(field, "a number >= 0 (mm), 'too_small', 'absent' or null", value)


def _target(item: object, where: _Where, i: int) -> TargetMeasurement:
    if type(item) is not dict:
        if not isinstance(item, Mapping):
            raise where.fail(
                f"targets[{i}]", "an object with lesion, organ, nodal, diameter_mm", item
            )
        item = dict(item)
    lesion = item.get("lesion")
    if type(lesion) is not str or not lesion:
        raise where.fail(f"targets[{i}].lesion", "a non-empty string", lesion)
    if "diameter_mm" not in item:
        raise where.fail(
            f"targets[{i}].diameter_mm", "a number, 'too_small', 'absent' or null", None
        )
    raw = item["diameter_mm"]
    diameter: Diameter
    if type(raw) is float and raw >= 0.0 and _isfinite(raw):
        diameter = raw
    else:
        diameter = _diameter(raw, where, f"targets[{i}].diameter_mm")
    nodal = item.get("nodal", False)
    if type(nodal) is not bool:
        raise where.fail(f"targets[{i}].nodal", "true or false", nodal)
    merged = item.get("merged_into")
    if merged is not None:
        merged = _str(merged, where, f"targets[{i}].merged_into")
    organ = item.get("organ")
    return TargetMeasurement(
        lesion, organ if type(organ) is str else str(organ or ""), nodal, diameter, merged
    )


def _kind(value: object, where: _Where, field: str) -> LesionKind:
    if value is None:
        return LesionKind.LESION
    kind = _KINDS.get(value) if isinstance(value, str) else None
    if kind is None:
        raise where.fail(field, "one of " + ", ".join(_KINDS), value)
    return kind


def _non_target(item: object, where: _Where, i: int) -> NonTargetAssessment:
    if not isinstance(item, Mapping):
        raise where.fail(f"non_targets[{i}]", "an object with lesion and status", item)
    status_raw = item.get("status")
    status = _NT_STATUS.get(status_raw) if type(status_raw) is str else None
    if status is None:
        raise where.fail(f"non_targets[{i}].status", "one of " + ", ".join(_NT_STATUS), status_raw)
    lesion = item.get("lesion")
    if type(lesion) is not str or not lesion:
        raise where.fail(f"non_targets[{i}].lesion", "a non-empty string", lesion)
    kind = item.get("kind")
    cyto = item.get("cytology_confirmed", False)
    if kind is None and cyto is False:
        return NonTargetAssessment(lesion, status)
    return NonTargetAssessment(
        lesion,
        status,
        _kind(kind, where, f"non_targets[{i}].kind"),
        _bool(cyto, where, f"non_targets[{i}].cytology_confirmed"),
    )


def _new_lesions(value: object, where: _Where) -> NewLesionCall | tuple[NewLesion, ...]:
    if value is None:
        return NewLesionCall.NONE
    if isinstance(value, str):
        call = _NEW_CALL.get(value)
        if call is None:
            raise where.fail("new_lesions", "'none', 'equivocal', 'unequivocal' or a list", value)
        return call
    if isinstance(value, list):
        out = []
        for i, item in enumerate(value):
            f = f"new_lesions[{i}]"
            if not isinstance(item, Mapping):
                raise where.fail(f, "an object with lesion, diameter_mm, typical_hcc", item)
            d = item.get("diameter_mm")
            dn = None if d is None else _number(d)
            if d is not None and (dn is None or dn < 0):
                raise where.fail(f"{f}.diameter_mm", "a number >= 0 (mm) or null", d)
            typical = item.get("typical_hcc")
            out.append(
                NewLesion(
                    lesion=_str(item.get("lesion"), where, f"{f}.lesion"),
                    organ=str(item.get("organ") or "liver"),
                    kind=_kind(item.get("kind"), where, f"{f}.kind"),
                    diameter_mm=dn,
                    typical_hcc=None
                    if typical is None
                    else _bool(typical, where, f"{f}.typical_hcc"),
                    cytology_confirmed=_bool(
                        item.get("cytology_confirmed", False), where, f"{f}.cytology_confirmed"
                    ),
                    equivocal=_bool(item.get("equivocal", False), where, f"{f}.equivocal"),
                )
            )
        return tuple(out)
    raise where.fail("new_lesions", "'none', 'equivocal', 'unequivocal' or a list", value)


def _list(value: object, where: _Where, field: str) -> Sequence[Any]:
    if value is None:
        return ()
    if isinstance(value, list):
        return value
    raise where.fail(field, "a list", value)


def _assessment(item: object, where: _Where) -> Assessment:
    if not isinstance(item, Mapping):
        raise where.fail("assessment", "an object with a date", item)
    date = _required_date(item.get("date"), where, "date")
    where.date = date
    # An assessment that records only new lesions (e.g. {"date", "new_lesions": "unequivocal"})
    # is a lesion assessment (targets and non-targets not evaluated), not a "not done" one.
    has_lesions = (
        "targets" in item
        or "non_targets" in item
        or ("new_lesions" in item and "overall_response" not in item)
    )
    if "overall_response" in item and not has_lesions:
        raw = item["overall_response"]
        if raw is None or raw == "":
            response = None
        else:
            response = _RESPONSES.get(raw) if isinstance(raw, str) else None
            if response is None:
                raise where.fail(
                    "overall_response", "one of " + ", ".join(_RESPONSES) + " or null", raw
                )
        return Assessment(date=date, overall_response=response, response_only=True)
    if "overall_response" in item and item["overall_response"] is not None:
        raise where.fail(
            "overall_response",
            "no overall_response on an assessment with lesion data (it is derived)",
            item["overall_response"],
        )
    if not has_lesions:
        return Assessment(date=date, response_only=True)
    targets = tuple(
        [_target(t, where, i) for i, t in enumerate(_list(item.get("targets"), where, "targets"))]
    )
    non_targets = tuple(
        [
            _non_target(t, where, i)
            for i, t in enumerate(_list(item.get("non_targets"), where, "non_targets"))
        ]
    )
    return Assessment(
        date=date,
        targets=targets,
        non_targets=non_targets,
        new_lesions=_new_lesions(item.get("new_lesions"), where),
    )


def _subject(item: object, index: int) -> SubjectTimeline:
    if not isinstance(item, Mapping):
        raise CriteriaError(
            f"subject #{index + 1}: expected an object with subject, treatment_start and "
            f"assessments, received {type(item).__name__}; fix the timeline."
        )
    raw_id = item.get("subject")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise CriteriaError(
            f"subject #{index + 1}, field subject: expected a non-empty subject code, received "
            f"{raw_id!r}; fix this field in the timeline."
        )
    where = _Where(raw_id)
    start = _required_date(item.get("treatment_start"), where, "treatment_start")
    death = _date(item.get("death_date"), where, "death_date", nullable=True)
    alive = _date(item.get("last_known_alive"), where, "last_known_alive", nullable=True)
    raw_assessments = item.get("assessments")
    if not isinstance(raw_assessments, list) or not raw_assessments:
        raise where.fail(
            "assessments", "a non-empty list (the first is the baseline)", raw_assessments
        )
    assessments = []
    for k, a in enumerate(raw_assessments):
        assessments.append(_assessment(a, _Where(raw_id, k + 1)))
    return SubjectTimeline(
        subject=raw_id,
        treatment_start=start,
        assessments=tuple(assessments),
        death_date=death,
        last_known_alive=alive,
    )


def _parse_timeline(data: Any) -> Timeline:
    if not isinstance(data, Mapping) or not isinstance(data.get("subjects"), list):
        raise CriteriaError(
            'timeline: expected an object {"subjects": [...]}, received '
            f"{type(data).__name__}; see docs/response-engine.md for the format."
        )
    return Timeline(tuple(_subject(s, i) for i, s in enumerate(data["subjects"])))
