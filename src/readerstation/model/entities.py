"""The reading domain: subjects, timepoints, lesions, measurements and timepoint reads.

Every class is a frozen dataclass that checks itself in ``__post_init__``: an object that exists
is valid. Closed sets accept their standard word or the Enum member and are normalised once.
Lengths are millimetres, points are patient LPS coordinates in mm, dates are ISO dates and
times are timezone-aware UTC.

These checks are *structural* (a measured lesion has a length, a non-target has a status, a
liver lesion has its segment). Whether a lesion set satisfies RECIST 1.1 or mRECIST (how many
targets, measurable size) is checked by :mod:`readerstation.criteria.checks`, because a draft
may legitimately violate it while the reader works.

Examples
--------
>>> line = LinePoints((0.0, 0.0, 10.0), (30.0, 40.0, 10.0), "1.2.3.4")
>>> line.length_mm
50.0
>>> m = Measurement(MeasurementState.MEASURED, long_axis_mm=50.0, long_axis_line=line)
>>> liver = Lesion("L-0001", "T1", "target", "liver", liver_segment="VII")
>>> LesionAssessment(liver, measurement=m).diameter_mm("recist1.1")
50.0
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar, cast

from readerstation.criteria.enums import LesionKind, NewLesionCall, NonTargetStatus
from readerstation.criteria.organs import normalise_organ, uses_viable_diameter
from readerstation.criteria.params import ResponseCriteria, criteria_from_name
from readerstation.errors import CriteriaError, ModelError
from readerstation.model.enums import (
    LesionRole,
    LiverSegment,
    MeasurementState,
    ReadStatus,
)

if TYPE_CHECKING:
    from readerstation.dicom.phase import Phase

__all__ = [
    "LINE_LENGTH_TOLERANCE_MM",
    "Lesion",
    "LesionAssessment",
    "LinePoints",
    "Measurement",
    "Point",
    "Subject",
    "Timepoint",
    "TimepointRead",
    "normalise_organ",
]

Point = tuple[float, float, float]
"""A point in patient LPS coordinates, (x, y, z) in mm."""

LINE_LENGTH_TOLERANCE_MM = 0.05
"""Largest difference (mm) allowed between a length and the length of the line it came from."""

_UNKNOWN_PHASE = cast("Phase", "unknown")  # normalised to Phase.UNKNOWN in Timepoint
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_E = TypeVar("_E", bound=Enum)


def _enum(cls: type[_E], value: object, owner: str, name: str) -> _E:
    if isinstance(value, cls):
        return value
    try:
        return cls(value)
    except ValueError:
        words = ", ".join(repr(m.value) for m in cls)
        raise ModelError(
            f"{owner}.{name}: expected one of {words}, received {value!r}; use one of those words."
        ) from None


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _code(value: object, owner: str, name: str, *, max_len: int = 64) -> str:
    if not isinstance(value, str) or not _CODE.match(value) or len(value) > max_len:
        raise ModelError(
            f"{owner}.{name}: expected a code of letters, digits, '_', '.', '-' (at most "
            f"{max_len} characters, starting with a letter or digit), received {value!r}."
        )
    return value


def _uid(value: object, owner: str, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64 or not _UID.match(value):
        raise ModelError(
            f"{owner}.{name}: expected a DICOM UID (digits and dots, at most 64 characters, "
            f"no leading zeros), received {value!r}; copy it from the DICOM header."
        )
    return value


def _length(value: object, owner: str, name: str, *, positive: bool) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelError(f"{owner}.{name}: expected a length in mm (a number), received {value!r}.")
    f = float(value)
    if not math.isfinite(f) or f < 0.0 or (positive and f == 0.0):
        bound = "> 0" if positive else ">= 0"
        raise ModelError(
            f"{owner}.{name}: expected a finite length {bound} mm, received {value!r}; "
            "redraw the line."
        )
    return f


# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subject:
    """A trial subject, known only by its trial code (never a patient name or id).

    Attributes
    ----------
    code : str
        Trial subject code (``"HCC-001"``): letters, digits, ``_ . -``; at most 64 characters.
    treatment_start : datetime.date or None
        Start of treatment (for the SD minimum, TTR, PFS); None: the baseline scan date stands in.
    """

    code: str
    treatment_start: dt.date | None = None

    def __post_init__(self) -> None:
        _code(self.code, "Subject", "code")
        if self.treatment_start is not None and (
            not isinstance(self.treatment_start, dt.date)
            or isinstance(self.treatment_start, dt.datetime)
        ):
            raise ModelError(
                f"Subject.treatment_start: expected a date or None, received "
                f"{self.treatment_start!r}."
            )


@dataclass(frozen=True, slots=True)
class Timepoint:
    """One imaging timepoint of a subject and the series chosen to read it.

    Attributes
    ----------
    label : str
        Blinded label, ``"TP0"`` (baseline), ``"TP1"``... (letters, digits, ``_ . -``).
    scan_date : datetime.date or None
        Date of the scan; None when the charter hides visit dates from this user.
    study_uid : str or None
        StudyInstanceUID of the imaging study.
    series_uid : str or None
        SeriesInstanceUID of the series the reader chose to read (None until chosen).
    phase : Phase
        Contrast phase of the chosen series (``"arterial"`` for mRECIST).
    """

    label: str
    scan_date: dt.date | None = None
    study_uid: str | None = None
    series_uid: str | None = None
    phase: Phase = _UNKNOWN_PHASE

    def __post_init__(self) -> None:
        _code(self.label, "Timepoint", "label", max_len=32)
        if self.scan_date is not None and (
            not isinstance(self.scan_date, dt.date) or isinstance(self.scan_date, dt.datetime)
        ):
            raise ModelError(
                f"Timepoint {self.label}.scan_date: expected a date or None, received "
                f"{self.scan_date!r}."
            )
        _uid(self.study_uid, f"Timepoint {self.label}", "study_uid")
        _uid(self.series_uid, f"Timepoint {self.label}", "series_uid")
        # imported here: importing readerstation.dicom loads pydicom (~1 s), which the store and
        # the CLI do not otherwise need
        from readerstation.dicom.phase import Phase

        _set(self, "phase", _enum(Phase, self.phase, f"Timepoint {self.label}", "phase"))


@dataclass(frozen=True, slots=True)
class Lesion:
    """A lesion as the reader identifies it, with an id kept across timepoints.

    Attributes
    ----------
    tracking_id : str
        Identifier that follows the lesion from baseline to the last timepoint (DICOM SR
        "Tracking Identifier"); never reused for another lesion of the subject.
    label : str
        Label shown to the reader: ``"T1"``, ``"NT1"``, ``"N1"``, ``"NEW1"`` (<= 16 characters).
    role : LesionRole
        ``target``, ``non_target`` or ``new``.
    organ : str
        Organ, normalised to lower case with underscores (``"liver"``, ``"lung"``,
        ``"lymph_node"``, ``"porta_hepatis"``).
    location : str
        Free-text location within the organ (may be empty). No patient identifiers.
    liver_segment : LiverSegment or None
        Couinaud segment I-VIII; required when ``organ`` is ``"liver"``, refused otherwise.
    nodal : bool
        Lymph node (measured by its short axis). A liver lesion is never nodal.
    typical_hcc : bool or None
        mRECIST: typical HCC with arterial enhancement (and washout); None when not assessed.
    kind : LesionKind
        ``lesion``, or mRECIST's special non-target / new findings (portal vein thrombosis,
        effusion), which cannot be targets.
    """

    tracking_id: str
    label: str
    role: LesionRole
    organ: str
    location: str = ""
    liver_segment: LiverSegment | None = None
    nodal: bool = False
    typical_hcc: bool | None = None
    kind: LesionKind = LesionKind.LESION

    def __post_init__(self) -> None:
        _code(self.tracking_id, "Lesion", "tracking_id")
        _code(self.label, f"Lesion {self.tracking_id}", "label", max_len=16)
        who = f"Lesion {self.label}"
        _set(self, "role", _enum(LesionRole, self.role, who, "role"))
        _set(self, "kind", _enum(LesionKind, self.kind, who, "kind"))
        if not isinstance(self.organ, str) or not self.organ.strip():
            raise ModelError(
                f"{who}.organ: expected a non-empty organ name, received {self.organ!r}."
            )
        _set(self, "organ", normalise_organ(self.organ))
        if not isinstance(self.location, str):
            raise ModelError(f"{who}.location: expected text, received {self.location!r}.")
        if not isinstance(self.nodal, bool):
            raise ModelError(f"{who}.nodal: expected true or false, received {self.nodal!r}.")
        if self.typical_hcc is not None and not isinstance(self.typical_hcc, bool):
            raise ModelError(
                f"{who}.typical_hcc: expected true, false or None, received {self.typical_hcc!r}."
            )
        if self.organ == "liver":
            # None: not recorded (reads imported from another system); the workstation asks for
            # it (ReadingSession.add_lesion).
            if self.liver_segment is not None:
                _set(
                    self,
                    "liver_segment",
                    _enum(LiverSegment, self.liver_segment, who, "liver_segment"),
                )
            if self.nodal:
                raise ModelError(
                    f"{who}.nodal: a liver lesion is not a lymph node; set organ to "
                    "'lymph_node' or 'porta_hepatis' for a node, or nodal to false."
                )
        elif self.liver_segment is not None:
            raise ModelError(
                f"{who}.liver_segment: a segment is only given for organ 'liver', received "
                f"{self.liver_segment!r} for organ {self.organ!r}; remove it or fix the organ."
            )
        if self.role is LesionRole.TARGET and self.kind is not LesionKind.LESION:
            raise ModelError(
                f"{who}.kind: a {self.kind.value} is not measurable and cannot be a target; "
                "make it a non-target lesion."
            )


@dataclass(frozen=True, slots=True)
class LinePoints:
    """A measured line: two end points in patient LPS mm and the image it was drawn on.

    Attributes
    ----------
    start, end : tuple of float, (x, y, z) LPS mm
        End points of the line.
    sop_instance_uid : str
        SOPInstanceUID of the image (slice) the line was drawn on.
    """

    start: Point
    end: Point
    sop_instance_uid: str

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            p = getattr(self, name)
            try:
                t = tuple(float(c) for c in p)
            except (TypeError, ValueError):
                t = ()
            if len(t) != 3 or not all(math.isfinite(c) for c in t):
                raise ModelError(
                    f"LinePoints.{name}: expected three finite LPS coordinates in mm, received "
                    f"{p!r}."
                )
            _set(self, name, t)
        _uid(self.sop_instance_uid, "LinePoints", "sop_instance_uid")
        if self.sop_instance_uid is None:
            raise ModelError(
                "LinePoints.sop_instance_uid: expected the image's UID, received None."
            )
        if self.length_mm == 0.0:
            raise ModelError(
                "LinePoints: the two end points coincide (zero-length line); drag one end point "
                "to the lesion's edge."
            )

    @property
    def length_mm(self) -> float:
        """Euclidean length of the line in mm."""
        return math.dist(self.start, self.end)

    def to_list(self) -> list[list[float]]:
        """The two points as ``[[x, y, z], [x, y, z]]`` (the reads JSON format)."""
        return [list(self.start), list(self.end)]


@dataclass(frozen=True, slots=True)
class Measurement:
    """What the reader measured on one lesion at one timepoint.

    Attributes
    ----------
    state : MeasurementState
        ``measured`` (numbers given), ``too_small``, ``absent`` or ``not_evaluated`` (no numbers).
    long_axis_mm : float or None
        Longest in-plane diameter (mm, > 0).
    short_axis_mm : float or None
        Short axis, perpendicular to the long axis (mm, > 0, at most the long axis); for nodes.
    viable_long_axis_mm : float or None
        mRECIST: longest diameter of the viable, arterially enhancing part (mm, >= 0; 0 means no
        viable tumour left in a lesion that is still visible).
    long_axis_line, short_axis_line, viable_line : LinePoints or None
        The lines the numbers were measured with; a line's length must equal its number within
        ``LINE_LENGTH_TOLERANCE_MM``.
    """

    state: MeasurementState
    long_axis_mm: float | None = None
    short_axis_mm: float | None = None
    viable_long_axis_mm: float | None = None
    long_axis_line: LinePoints | None = None
    short_axis_line: LinePoints | None = None
    viable_line: LinePoints | None = None

    def __post_init__(self) -> None:
        who = "Measurement"
        _set(self, "state", _enum(MeasurementState, self.state, who, "state"))
        _set(self, "long_axis_mm", _length(self.long_axis_mm, who, "long_axis_mm", positive=True))
        _set(
            self, "short_axis_mm", _length(self.short_axis_mm, who, "short_axis_mm", positive=True)
        )
        _set(
            self,
            "viable_long_axis_mm",
            _length(self.viable_long_axis_mm, who, "viable_long_axis_mm", positive=False),
        )
        pairs = (
            ("long_axis_mm", "long_axis_line"),
            ("short_axis_mm", "short_axis_line"),
            ("viable_long_axis_mm", "viable_line"),
        )
        values = [getattr(self, v) for v, _ in pairs]
        lines = [getattr(self, ln) for _, ln in pairs]
        if self.state is not MeasurementState.MEASURED:
            if any(v is not None for v in values) or any(ln is not None for ln in lines):
                raise ModelError(
                    f"{who}: state {self.state.value!r} carries no lengths or lines, received "
                    "some; remove them or set state to 'measured'."
                )
            return
        if all(v is None for v in values):
            raise ModelError(
                f"{who}: state 'measured' needs at least one length (long_axis_mm, short_axis_mm "
                "or viable_long_axis_mm), received none; draw the line or set another state."
            )
        for (vname, lname), value, line in zip(pairs, values, lines, strict=True):
            if line is None:
                continue
            if not isinstance(line, LinePoints):
                raise ModelError(f"{who}.{lname}: expected LinePoints or None, received {line!r}.")
            if value is None:
                raise ModelError(
                    f"{who}.{lname}: a line is given but {vname} is None; give the length the "
                    "line measures."
                )
            if abs(line.length_mm - value) > LINE_LENGTH_TOLERANCE_MM:
                raise ModelError(
                    f"{who}.{vname}: expected the length of {lname} ({line.length_mm:.2f} mm), "
                    f"received {value:.2f} mm; recompute the length from the line's end points."
                )
        if (
            self.short_axis_mm is not None
            and self.long_axis_mm is not None
            and self.short_axis_mm > self.long_axis_mm + LINE_LENGTH_TOLERANCE_MM
        ):
            raise ModelError(
                f"{who}.short_axis_mm: expected at most the long axis ({self.long_axis_mm:.1f} "
                f"mm), received {self.short_axis_mm:.1f} mm; swap the two lines."
            )


@dataclass(frozen=True, slots=True)
class LesionAssessment:
    """One lesion in one timepoint read: a target or new lesion's measurement, or a non-target's
    status.

    Attributes
    ----------
    lesion : Lesion
        The lesion.
    measurement : Measurement or None
        Required for a target, optional for a new lesion (its size, for mRECIST), refused for a
        non-target. A measured node needs its short axis; a measured non-nodal target its long axis.
    non_target_status : NonTargetStatus or None
        Required for a non-target, refused otherwise.
    cytology_confirmed : bool
        mRECIST: an effusion proven malignant by cytology.
    """

    lesion: Lesion
    measurement: Measurement | None = None
    non_target_status: NonTargetStatus | None = None
    cytology_confirmed: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.lesion, Lesion):
            raise ModelError(
                f"LesionAssessment.lesion: expected a Lesion, received {self.lesion!r}."
            )
        les = self.lesion
        who = f"Lesion {les.label}"
        if self.measurement is not None and not isinstance(self.measurement, Measurement):
            raise ModelError(
                f"{who}.measurement: expected a Measurement or None, received {self.measurement!r}."
            )
        if les.role is LesionRole.NON_TARGET:
            if self.non_target_status is None:
                raise ModelError(
                    f"{who}.non_target_status: a non-target lesion needs a status (present, "
                    "absent, unequivocal_progression, not_evaluated), received None."
                )
            _set(
                self,
                "non_target_status",
                _enum(NonTargetStatus, self.non_target_status, who, "non_target_status"),
            )
            if self.measurement is not None:
                raise ModelError(
                    f"{who}.measurement: non-target lesions are not measured (RECIST 1.1 4.3.2); "
                    "remove the measurement or make the lesion a target."
                )
        else:
            if self.non_target_status is not None:
                raise ModelError(
                    f"{who}.non_target_status: only non-target lesions carry a status, received "
                    f"{self.non_target_status!r} for a {les.role.value} lesion."
                )
            if les.role is LesionRole.TARGET and self.measurement is None:
                raise ModelError(
                    f"{who}.measurement: a target lesion needs a measurement (or a state such as "
                    "'too_small' or 'not_evaluated'), received None."
                )
        m = self.measurement
        if m is not None and m.state is MeasurementState.MEASURED:
            if les.nodal and m.short_axis_mm is None:
                raise ModelError(
                    f"{who}.measurement.short_axis_mm: a lymph node is measured by its short axis "
                    "(RECIST 1.1 3.1.1), received None; draw the perpendicular short axis."
                )
            if not les.nodal and m.long_axis_mm is None and les.role is LesionRole.TARGET:
                raise ModelError(
                    f"{who}.measurement.long_axis_mm: a non-nodal target is measured by its long "
                    "axis, received None; draw the long axis."
                )
        if not isinstance(self.cytology_confirmed, bool):
            raise ModelError(
                f"{who}.cytology_confirmed: expected true or false, received "
                f"{self.cytology_confirmed!r}."
            )

    def diameter_mm(self, criteria: ResponseCriteria | str) -> float | None:
        """The number the criteria sum for this lesion (mm), or None when there is none.

        Parameters
        ----------
        criteria : ResponseCriteria or str
            The criteria, or their name (``"recist1.1"``, ``"mrecist"``). Nodes: the short axis.
            Other lesions: the viable long axis when
            :func:`~readerstation.criteria.organs.uses_viable_diameter` says so (mRECIST,
            intrahepatic lesions only), else the long axis (RECIST 1.1; mRECIST outside the
            liver).
        """
        crit = resolve_criteria(criteria)
        m = self.measurement
        if m is None or m.state is not MeasurementState.MEASURED:
            return None
        if self.lesion.nodal:
            return m.short_axis_mm
        if uses_viable_diameter(crit, self.lesion.organ, self.lesion.nodal):
            return m.viable_long_axis_mm
        return m.long_axis_mm


def resolve_criteria(criteria: ResponseCriteria | str) -> ResponseCriteria:
    """``criteria`` as a parameter object: a name goes through
    :func:`~readerstation.criteria.params.criteria_from_name`; raise :class:`ModelError` for an
    unknown name or another type."""
    if isinstance(criteria, ResponseCriteria):
        return criteria
    if isinstance(criteria, str):
        try:
            return criteria_from_name(criteria)
        except CriteriaError as exc:
            raise ModelError(str(exc)) from None
    raise ModelError(
        f"criteria: expected a ResponseCriteria or 'recist1.1'/'mrecist', received {criteria!r}."
    )


@dataclass(frozen=True, slots=True)
class TimepointRead:
    """One reader's read of one subject at one timepoint.

    Attributes
    ----------
    subject : Subject
    timepoint : Timepoint
    reader : str
        User name of the reader (a store account; never a patient identifier).
    lesions : tuple of LesionAssessment
        Targets, non-targets and new lesions; tracking ids and labels are unique.
    new_lesion_call : NewLesionCall
        ``none``, ``equivocal`` or ``unequivocal``; not ``none`` when new lesions are listed.
    status : ReadStatus
        ``draft`` or ``signed``.
    version : int
        1 for the first read; an amendment of a signed read is the next version.
    signed_at : datetime.datetime or None
        UTC time of signing; given exactly when ``status`` is ``signed``.
    read_id : int or None
        The store's id of this read version (None before it is stored).
    """

    subject: Subject
    timepoint: Timepoint
    reader: str
    lesions: tuple[LesionAssessment, ...] = ()
    new_lesion_call: NewLesionCall = NewLesionCall.NONE
    status: ReadStatus = ReadStatus.DRAFT
    version: int = 1
    signed_at: dt.datetime | None = None
    read_id: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.subject, Subject):
            raise ModelError(
                f"TimepointRead.subject: expected a Subject, received {self.subject!r}."
            )
        if not isinstance(self.timepoint, Timepoint):
            raise ModelError(
                f"TimepointRead.timepoint: expected a Timepoint, received {self.timepoint!r}."
            )
        who = f"TimepointRead {self.subject.code}/{self.timepoint.label}"
        _code(self.reader, who, "reader")
        lesions = tuple(self.lesions)
        for item in lesions:
            if not isinstance(item, LesionAssessment):
                raise ModelError(
                    f"{who}.lesions: expected LesionAssessment items, received {item!r}."
                )
        _set(self, "lesions", lesions)
        for attr in ("tracking_id", "label"):
            seen: set[str] = set()
            for item in lesions:
                value = getattr(item.lesion, attr)
                if value in seen:
                    raise ModelError(
                        f"{who}.lesions: {attr} {value!r} appears twice; each lesion has its own "
                        f"{attr}."
                    )
                seen.add(value)
        _set(
            self,
            "new_lesion_call",
            _enum(NewLesionCall, self.new_lesion_call, who, "new_lesion_call"),
        )
        _set(self, "status", _enum(ReadStatus, self.status, who, "status"))
        if self.new_lesion_call is NewLesionCall.NONE and self.new_lesions:
            labels = ", ".join(a.lesion.label for a in self.new_lesions)
            raise ModelError(
                f"{who}.new_lesion_call: 'none' contradicts the new lesions listed ({labels}); "
                "set 'equivocal' or 'unequivocal', or remove them."
            )
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ModelError(f"{who}.version: expected an integer >= 1, received {self.version!r}.")
        if self.status is ReadStatus.SIGNED:
            s = self.signed_at
            if not isinstance(s, dt.datetime) or s.utcoffset() != dt.timedelta(0):
                raise ModelError(
                    f"{who}.signed_at: a signed read needs its signing time as a UTC datetime, "
                    f"received {s!r}."
                )
        elif self.signed_at is not None:
            raise ModelError(
                f"{who}.signed_at: a draft has no signing time, received {self.signed_at!r}."
            )
        if self.read_id is not None and (
            isinstance(self.read_id, bool) or not isinstance(self.read_id, int)
        ):
            raise ModelError(
                f"{who}.read_id: expected an integer or None, received {self.read_id!r}."
            )

    def __repr__(self) -> str:
        counts = {r: 0 for r in LesionRole}
        for a in self.lesions:
            counts[a.lesion.role] += 1
        return (
            f"TimepointRead({self.subject.code}/{self.timepoint.label}, reader={self.reader}, "
            f"{self.status.value} v{self.version}, {counts[LesionRole.TARGET]} targets, "
            f"{counts[LesionRole.NON_TARGET]} non-targets, new={self.new_lesion_call.value})"
        )

    @property
    def targets(self) -> tuple[LesionAssessment, ...]:
        """The target lesions, in the read's order."""
        return tuple(a for a in self.lesions if a.lesion.role is LesionRole.TARGET)

    @property
    def non_targets(self) -> tuple[LesionAssessment, ...]:
        """The non-target lesions, in the read's order."""
        return tuple(a for a in self.lesions if a.lesion.role is LesionRole.NON_TARGET)

    @property
    def new_lesions(self) -> tuple[LesionAssessment, ...]:
        """The new lesions, in the read's order."""
        return tuple(a for a in self.lesions if a.lesion.role is LesionRole.NEW)

    @property
    def is_signed(self) -> bool:
        """True once signed (the read can then never change)."""
        return self.status is ReadStatus.SIGNED

    def lesion(self, label: str) -> LesionAssessment:
        """The assessment of the lesion with this label (raise :class:`ModelError` if absent)."""
        for a in self.lesions:
            if a.lesion.label == label:
                return a
        raise ModelError(
            f"TimepointRead {self.subject.code}/{self.timepoint.label}: no lesion labelled "
            f"{label!r}; labels are " + ", ".join(a.lesion.label for a in self.lesions) + "."
        )

    # -- JSON --------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the read's content (everything but ``read_id``)."""
        return {
            "subject": {
                "code": self.subject.code,
                "treatment_start": _iso(self.subject.treatment_start),
            },
            "timepoint": {
                "label": self.timepoint.label,
                "scan_date": _iso(self.timepoint.scan_date),
                "study_uid": self.timepoint.study_uid,
                "series_uid": self.timepoint.series_uid,
                "phase": self.timepoint.phase.value,
            },
            "reader": self.reader,
            "lesions": [_assessment_to_dict(a) for a in self.lesions],
            "new_lesion_call": self.new_lesion_call.value,
            "status": self.status.value,
            "version": self.version,
            "signed_at": None if self.signed_at is None else self.signed_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, read_id: int | None = None) -> TimepointRead:
        """Rebuild a read from :meth:`to_dict` output; raise :class:`ModelError` if invalid."""
        try:
            s = data["subject"]
            t = data["timepoint"]
            signed = data.get("signed_at")
            return cls(
                subject=Subject(s["code"], _date(s.get("treatment_start"))),
                timepoint=Timepoint(
                    t["label"],
                    _date(t.get("scan_date")),
                    t.get("study_uid"),
                    t.get("series_uid"),
                    t.get("phase", "unknown"),
                ),
                reader=data["reader"],
                lesions=tuple(_assessment_from_dict(a) for a in data.get("lesions", ())),
                new_lesion_call=data.get("new_lesion_call", NewLesionCall.NONE),
                status=data.get("status", ReadStatus.DRAFT),
                version=data.get("version", 1),
                signed_at=None if signed is None else dt.datetime.fromisoformat(signed),
                read_id=read_id,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ModelError(
                f"TimepointRead.from_dict: expected the fields of TimepointRead.to_dict(), "
                f"missing or malformed: {exc}."
            ) from exc


def _iso(d: dt.date | None) -> str | None:
    return None if d is None else d.isoformat()


def _date(value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ModelError(f"date: expected an ISO date YYYY-MM-DD or null, received {value!r}.")


def _line_to_dict(line: LinePoints | None) -> dict[str, Any] | None:
    if line is None:
        return None
    return {"points": line.to_list(), "sop_instance_uid": line.sop_instance_uid}


def _line_from_dict(data: Mapping[str, Any] | None) -> LinePoints | None:
    if data is None:
        return None
    pts = data["points"]
    return LinePoints(tuple(pts[0]), tuple(pts[1]), data["sop_instance_uid"])


def _assessment_to_dict(a: LesionAssessment) -> dict[str, Any]:
    les = a.lesion
    m = a.measurement
    return {
        "tracking_id": les.tracking_id,
        "label": les.label,
        "role": les.role.value,
        "organ": les.organ,
        "location": les.location,
        "liver_segment": None if les.liver_segment is None else les.liver_segment.value,
        "nodal": les.nodal,
        "typical_hcc": les.typical_hcc,
        "kind": les.kind.value,
        "measurement": None
        if m is None
        else {
            "state": m.state.value,
            "long_axis_mm": m.long_axis_mm,
            "short_axis_mm": m.short_axis_mm,
            "viable_long_axis_mm": m.viable_long_axis_mm,
            "long_axis_line": _line_to_dict(m.long_axis_line),
            "short_axis_line": _line_to_dict(m.short_axis_line),
            "viable_line": _line_to_dict(m.viable_line),
        },
        "non_target_status": None if a.non_target_status is None else a.non_target_status.value,
        "cytology_confirmed": a.cytology_confirmed,
    }


def _assessment_from_dict(d: Mapping[str, Any]) -> LesionAssessment:
    m = d.get("measurement")
    return LesionAssessment(
        lesion=Lesion(
            d["tracking_id"],
            d["label"],
            d["role"],
            d["organ"],
            d.get("location", ""),
            d.get("liver_segment"),
            d.get("nodal", False),
            d.get("typical_hcc"),
            d.get("kind", LesionKind.LESION),
        ),
        measurement=None
        if m is None
        else Measurement(
            m["state"],
            m.get("long_axis_mm"),
            m.get("short_axis_mm"),
            m.get("viable_long_axis_mm"),
            _line_from_dict(m.get("long_axis_line")),
            _line_from_dict(m.get("short_axis_line")),
            _line_from_dict(m.get("viable_line")),
        ),
        non_target_status=d.get("non_target_status"),
        cytology_confirmed=d.get("cytology_confirmed", False),
    )
