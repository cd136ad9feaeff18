"""DICOM SR TID 1500 Measurement Reports of timepoint reads, written and read back with highdicom.

One signed :class:`~readerstation.model.TimepointRead` becomes one Comprehensive 3D SR document
whose content is a TID 1500 "Imaging Measurement Report":

* **observer context** (TID 1002): a person observer whose name is the reader's trial role
  (``"Reader 1"``), role in procedure NCIt C28747 "Reader" (CID 7453). A blinded export (the
  default) carries no user name anywhere; ``blinded=False`` adds the store account as the
  observer's login name so that :func:`load_sr` restores it.
* **procedure reported** (CID 100): LOINC 25045-6 "CT unspecified body region" or 25056-3 "MRI
  unspecified body region", by the referenced images' Modality. (CID 100 has no "CT/MR abdomen"
  code; the abdominal anatomy is in each lesion's finding site.)
* **per lesion** one measurement group (TID 1501 "Measurement and Qualitative Evaluation Group";
  not TID 1411, whose single referenced region cannot hold three lines), holding: tracking identifier = the lesion label (``T1``) and a tracking
  UID derived from the subject and the lesion's tracking id (stable across timepoints); time
  point context (TID 1502: label, order, type); finding SCT 52988006 "Lesion"; finding site
  (the Couinaud segment, SCT 71133005 ... 277962002, for liver lesions; SCT organ codes of
  :data:`ORGAN_CODES` otherwise); long axis (SCT 103339001) and short axis (SCT 103340004) as
  NUM in mm (UCUM) with measurement method DCM 126081 "RECIST 1.1", the viable long axis as a
  long axis NUM with measurement method NCIt C126032 "Modified RECIST Lencioni Liver Cancer
  2010" (mRECIST); every NUM carries the exact float64 value (FloatingPointValue) and is
  INFERRED FROM an SCOORD POLYLINE on the referenced image (column, row image coordinates,
  pixel centre at +0.5) and an SCOORD3D POLYLINE in patient LPS mm (the frame of reference of
  the image); qualitative evaluations NCIt C94189 "Lesion Identification" = C94520 "Target" /
  C94521 "Non-target" / C94522 "New" and NCIt C96643 "Tumor State" = C25626 "Present"
  (measured or present), DCM 112133 "Too small", C48190 "Absent", C123645 "Unequivocal"
  (unequivocal progression), C62222 "Not Evaluable" (the CDISC terms of TU/TR);
* **report-level qualitative evaluations** (UMLS C0034375): per criteria NCIt C96613 "Overall
  Response" = C4870 CR / C18058 PR / C18213 SD / C35571 PD / C62222 NE / C96700 NON-CR/NON-PD,
  modified by DCM 112021 "Response Evaluation Method" = DCM 126081 "RECIST 1.1" or NCIt
  C126032 (mRECIST); NCIt C142362 "New Lesion Indicator" = SCT 373067005 "No" / 373066001
  "Yes" / NCIt C86071 "Equivocal".

What DICOM has no coded place for (the lesion's tracking id, organ word, free-text location,
nodal flag, typical-HCC flag, kind; the read's version, signing time, series and phase) is kept
in a DCM 121106 "Comment" TEXT item (compact JSON) so that :func:`load_sr` restores the read
exactly. Lengths, end points, SOP instance UIDs, labels, roles, states, segments and responses
are read from the coded content.

The patient module of the SR carries the trial subject code only (PatientName = PatientID =
the code; birth date and sex empty), whatever the referenced images hold.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
from highdicom.sr import CodedConcept
from pydicom import Dataset, dcmread
from pydicom.uid import generate_uid

from readerstation.criteria.enums import NewLesionCall, NonTargetStatus, Response
from readerstation.errors import ExportError, GeometryError, ModelError
from readerstation.geometry import Volume
from readerstation.model.entities import (
    Lesion,
    LesionAssessment,
    LinePoints,
    Measurement,
    Subject,
    Timepoint,
    TimepointRead,
)
from readerstation.model.enums import LesionRole, LiverSegment, MeasurementState, ReadStatus

__all__ = [
    "CRITERIA_CODES",
    "ORGAN_CODES",
    "RESPONSE_CODES",
    "SrReport",
    "load_sr",
    "load_sr_report",
    "save_sr",
    "to_sr_dataset",
]

FORMAT = "readerstation-sr/1"
"""Version of the JSON kept in the Comment items."""

OFF_PLANE_TOLERANCE_MM = 0.05
"""Largest distance (mm) of a line end point from the plane of the image it references."""

# -- codes ----------------------------------------------------------------------------------


def _c(value: str, scheme: str, meaning: str) -> CodedConcept:
    return CodedConcept(value=value, scheme_designator=scheme, meaning=meaning)


_NCIT = "NCIt"
_LESION = _c("52988006", "SCT", "Lesion")
_LONG_AXIS = _c("103339001", "SCT", "Long axis")
_SHORT_AXIS = _c("103340004", "SCT", "Short axis")
_MM = _c("mm", "UCUM", "millimeter")
_READER = _c("C28747", _NCIT, "Reader")
_PERSON = _c("121006", "DCM", "Person")
_COMMENT = _c("121106", "DCM", "Comment")
_QUALITATIVE = _c("C0034375", "UMLS", "Qualitative Evaluations")
_OVERALL_RESPONSE = _c("C96613", _NCIT, "Overall Response")
_RESPONSE_METHOD = _c("112021", "DCM", "Response Evaluation Method")
_NEW_LESION_INDICATOR = _c("C142362", _NCIT, "New Lesion Indicator")
_LESION_IDENTIFICATION = _c("C94189", _NCIT, "Lesion Identification")
_TUMOR_STATE = _c("C96643", _NCIT, "Tumor State")
_BASELINE = _c("C1442488", "UMLS", "Baseline")
_POSTTREATMENT = _c("126074", "DCM", "Posttreatment")
_PROCEDURES = {
    "CT": _c("25045-6", "LN", "CT unspecified body region"),
    "MR": _c("25056-3", "LN", "MRI unspecified body region"),
}

CRITERIA_CODES: dict[str, CodedConcept] = {
    "recist1.1": _c("126081", "DCM", "RECIST 1.1"),
    "mrecist": _c("C126032", _NCIT, "Modified RECIST Lencioni Liver Cancer 2010"),
}
"""Response criteria (CID 6147 "Response Criteria"; mRECIST from NCIt, CDISC RSCAT)."""

RESPONSE_CODES: dict[Response, CodedConcept] = {
    Response.CR: _c("C4870", _NCIT, "Complete Response"),
    Response.PR: _c("C18058", _NCIT, "Partial Response"),
    Response.SD: _c("C18213", _NCIT, "Stable Disease"),
    Response.PD: _c("C35571", _NCIT, "Progressive Disease"),
    Response.NE: _c("C62222", _NCIT, "Not Evaluable"),
    Response.NON_CR_NON_PD: _c("C96700", _NCIT, "Non Complete Response/Non Progressive Disease"),
}
"""Timepoint responses (NCIt codes of the CDISC codelist C96785, "Oncology Response
Assessment Result")."""

_ROLE_CODES = {
    LesionRole.TARGET: _c("C94520", _NCIT, "Target"),
    LesionRole.NON_TARGET: _c("C94521", _NCIT, "Non-target"),
    LesionRole.NEW: _c("C94522", _NCIT, "New"),
}
_PRESENT = _c("C25626", _NCIT, "Present")
_STATE_CODES = {
    MeasurementState.MEASURED: _PRESENT,
    MeasurementState.TOO_SMALL: _c("112133", "DCM", "Too small"),
    MeasurementState.ABSENT: _c("C48190", _NCIT, "Absent"),
    MeasurementState.NOT_EVALUATED: _c("C62222", _NCIT, "Not Evaluable"),
}
_STATUS_CODES = {
    NonTargetStatus.PRESENT: _PRESENT,
    NonTargetStatus.ABSENT: _STATE_CODES[MeasurementState.ABSENT],
    NonTargetStatus.UNEQUIVOCAL_PROGRESSION: _c("C123645", _NCIT, "Unequivocal"),
    NonTargetStatus.NOT_EVALUATED: _STATE_CODES[MeasurementState.NOT_EVALUATED],
}
_NEW_CALL_CODES = {
    NewLesionCall.NONE: _c("373067005", "SCT", "No"),
    NewLesionCall.UNEQUIVOCAL: _c("373066001", "SCT", "Yes"),
    NewLesionCall.EQUIVOCAL: _c("C86071", _NCIT, "Equivocal"),
}
_SEGMENT_CODES = {
    LiverSegment.I: _c("71133005", "SCT", "Couinaud hepatic segment I"),
    LiverSegment.II: _c("277956007", "SCT", "Couinaud hepatic segment II"),
    LiverSegment.III: _c("277957003", "SCT", "Couinaud hepatic segment III"),
    LiverSegment.IV: _c("277958008", "SCT", "Couinaud hepatic segment IV"),
    LiverSegment.V: _c("277959000", "SCT", "Couinaud hepatic segment V"),
    LiverSegment.VI: _c("277960005", "SCT", "Couinaud hepatic segment VI"),
    LiverSegment.VII: _c("277961009", "SCT", "Couinaud hepatic segment VII"),
    LiverSegment.VIII: _c("277962002", "SCT", "Couinaud hepatic segment VIII"),
}

ORGAN_CODES: dict[str, CodedConcept] = {
    "liver": _c("10200004", "SCT", "Liver"),
    "lymph_node": _c("59441001", "SCT", "Lymph node"),
    "lymph_nodes": _c("59441001", "SCT", "Lymph node"),
    "porta_hepatis": _c("59441001", "SCT", "Lymph node"),
    "lung": _c("39607008", "SCT", "Lung"),
    "abdomen": _c("818981001", "SCT", "Abdomen"),
}
"""Finding-site codes (SCT, as in pydicom's code dictionary) of the organs readerstation
names; a liver lesion's site is its Couinaud segment, an organ not listed gets SCT 818981001
"Abdomen" (the organ word itself is kept in the lesion's Comment)."""


def _key(code: Any) -> tuple[str, str]:
    return (str(code.CodingSchemeDesignator), str(code.CodeValue))


def _ck(c: CodedConcept) -> tuple[str, str]:
    return (c.scheme_designator, c.value)


_K_GROUP = ("DCM", "125007")
_K_TRACKING_ID = ("DCM", "112039")
_K_TRACKING_UID = ("DCM", "112040")
_K_TIME_POINT = ("UMLS", "C2348792")
_K_TIME_POINT_ORDER = ("DCM", "126073")
_K_FINDING_SITE = ("SCT", "363698007")
_K_METHOD = ("SCT", "370129005")
_K_PERSON_NAME = ("DCM", "121008")
_K_LOGIN = ("DCM", "128774")

# -- the export ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SrReport:
    """What an SR measurement report holds beyond the read itself.

    Attributes
    ----------
    read : TimepointRead
        The restored read (signed).
    observer_role : str
        The observer's trial role (``"Reader 1"``).
    responses : dict of str to Response
        Timepoint response per criteria name (``"recist1.1"``, ``"mrecist"``) when the SR has one.
    time_point_order : int or None
        Order of the timepoint within the subject (1 = baseline) when the SR has one.
    path : Path or None
        The file it came from.
    """

    read: TimepointRead
    observer_role: str
    responses: dict[str, Response] = field(default_factory=dict)
    time_point_order: int | None = None
    path: Path | None = None

    def __repr__(self) -> str:
        resp = ", ".join(f"{k}={v.value}" for k, v in self.responses.items()) or "none"
        return f"SrReport({self.read!r}, observer={self.observer_role!r}, responses: {resp})"


def _image_volume(ds: Dataset) -> Volume:
    """A one-slice :class:`Volume` with the geometry of a single-frame image (no pixels read)."""
    uid = str(ds.SOPInstanceUID)
    if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
        raise ExportError(
            f"image {uid}: multi-frame images are not supported as SR references yet; measure on "
            "a single-frame series."
        )
    try:
        iop = np.asarray([float(v) for v in ds.ImageOrientationPatient], dtype=np.float64)
        ipp = tuple(float(v) for v in ds.ImagePositionPatient)
        spacing = [float(v) for v in ds.PixelSpacing]
        rows, cols = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError) as exc:
        raise ExportError(
            f"image {uid}: no usable ImagePositionPatient / ImageOrientationPatient / "
            f"PixelSpacing / Rows / Columns ({exc}); an SR line needs the image's geometry."
        ) from None
    normal = np.cross(iop[:3], iop[3:])
    direction = np.column_stack([iop[:3], iop[3:], normal / np.linalg.norm(normal)])
    thickness = float(getattr(ds, "SliceThickness", 0) or 0) or 1.0
    pixels = np.broadcast_to(np.zeros((1, 1, 1), np.int8), (1, rows, cols))
    try:
        return Volume(
            pixels,
            spacing=(thickness, spacing[0], spacing[1]),
            origin=ipp,  # type: ignore[arg-type]
            direction=direction,
            sop_instance_uids=(uid,),
            frame_of_reference_uid=getattr(ds, "FrameOfReferenceUID", None),
        )
    except GeometryError as exc:
        raise ExportError(f"image {uid}: {exc}") from None


def to_image_coordinates(points_lps: Sequence[Sequence[float]], image: Dataset) -> np.ndarray:
    """SCOORD image coordinates (column, row) of LPS points on a single-frame image.

    The top-left corner of the top-left pixel is (0, 0), its centre (0.5, 0.5) (DICOM PS3.3
    C.18.6.1.2). Raise :class:`ExportError` when a point is more than
    :data:`OFF_PLANE_TOLERANCE_MM` off the image plane.
    """
    vol = _image_volume(image)
    idx = np.atleast_2d(vol.patient_to_index(np.asarray(points_lps, dtype=np.float64)))
    off = np.abs(idx[:, 0]) * vol.spacing[0]
    if np.any(off > OFF_PLANE_TOLERANCE_MM):
        raise ExportError(
            f"image {image.SOPInstanceUID}: a line end point lies {float(off.max()):.3f} mm off "
            "the image plane; the line's sop_instance_uid names another slice. Redraw the line "
            "on its slice."
        )
    return np.column_stack([idx[:, 2] + 0.5, idx[:, 1] + 0.5])


def _person_name(text: str) -> str:
    """A one-component person name (a trial code or role), with the caret that marks it as one."""
    return text if "^" in text else f"{text}^"


def _observer_code(role: str) -> str:
    code = re.sub(r"[^A-Za-z0-9_.\-]+", "_", role.strip()).strip("_.-")
    return code or "Reader"


def _lesion_uid(subject: str, tracking_id: str) -> str:
    return str(generate_uid(entropy_srcs=["readerstation-lesion", subject, tracking_id]))


def _comment(data: Mapping[str, Any]) -> hd.sr.TextContentItem:
    return hd.sr.TextContentItem(
        name=_COMMENT,
        value=json.dumps(data, separators=(",", ":"), sort_keys=True),
        relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
    )


def _coordinates(
    line: LinePoints, images: Mapping[str, Dataset]
) -> list[hd.sr.CoordinatesForMeasurement | hd.sr.CoordinatesForMeasurement3D]:
    image = images[line.sop_instance_uid]
    points = [line.start, line.end]
    out: list[hd.sr.CoordinatesForMeasurement | hd.sr.CoordinatesForMeasurement3D] = [
        hd.sr.CoordinatesForMeasurement(
            graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
            graphic_data=to_image_coordinates(points, image),
            source_image=hd.sr.SourceImageForRegion(
                referenced_sop_class_uid=image.SOPClassUID,
                referenced_sop_instance_uid=image.SOPInstanceUID,
            ),
        )
    ]
    frame = getattr(image, "FrameOfReferenceUID", None)
    if frame:
        out.append(
            hd.sr.CoordinatesForMeasurement3D(
                graphic_type=hd.sr.GraphicTypeValues3D.POLYLINE,
                graphic_data=np.asarray(points, dtype=np.float64),
                frame_of_reference_uid=frame,
            )
        )
    return out


def _measurement(
    name: CodedConcept,
    value: float,
    method: str,
    line: LinePoints | None,
    images: Mapping[str, Dataset],
) -> hd.sr.Measurement:
    return hd.sr.Measurement(
        name=name,
        value=float(value),
        unit=_MM,
        method=CRITERIA_CODES[method],
        referenced_coordinates=None if line is None else _coordinates(line, images),
    )


def _finding_site(lesion: Lesion) -> hd.sr.FindingSite:
    if lesion.liver_segment is not None:
        return hd.sr.FindingSite(_SEGMENT_CODES[lesion.liver_segment])
    return hd.sr.FindingSite(ORGAN_CODES.get(lesion.organ, ORGAN_CODES["abdomen"]))


def _group(
    read: TimepointRead,
    a: LesionAssessment,
    images: Mapping[str, Dataset],
    time_point: hd.sr.TimePointContext,
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    les = a.lesion
    tracking = hd.sr.TrackingIdentifier(
        uid=_lesion_uid(read.subject.code, les.tracking_id), identifier=les.label
    )
    measurements: list[hd.sr.Measurement] = []
    m = a.measurement
    if m is not None and m.state is MeasurementState.MEASURED:
        for name, value, method, line in (
            (_LONG_AXIS, m.long_axis_mm, "recist1.1", m.long_axis_line),
            (_SHORT_AXIS, m.short_axis_mm, "recist1.1", m.short_axis_line),
            (_LONG_AXIS, m.viable_long_axis_mm, "mrecist", m.viable_line),
        ):
            if value is None:
                continue
            measurements.append(_measurement(name, value, method, line, images))
    evaluations = [hd.sr.QualitativeEvaluation(_LESION_IDENTIFICATION, _ROLE_CODES[les.role])]
    if a.non_target_status is not None:
        evaluations.append(
            hd.sr.QualitativeEvaluation(_TUMOR_STATE, _STATUS_CODES[a.non_target_status])
        )
    elif m is not None:
        evaluations.append(hd.sr.QualitativeEvaluation(_TUMOR_STATE, _STATE_CODES[m.state]))
    common: dict[str, Any] = {
        "tracking_identifier": tracking,
        "time_point_context": time_point,
        "finding_type": _LESION,
        "finding_sites": [_finding_site(les)],
        "measurements": measurements or None,
        "qualitative_evaluations": evaluations,
    }
    group = hd.sr.MeasurementsAndQualitativeEvaluations(**common)
    extras = {
        "tracking_id": les.tracking_id,
        "organ": les.organ,
        "location": les.location,
        "nodal": les.nodal,
        "typical_hcc": les.typical_hcc,
        "kind": les.kind.value,
        "cytology_confirmed": a.cytology_confirmed,
        "measured": m is not None,
    }
    group[0].ContentSequence.append(_comment(extras))
    return group


def _response_items(
    responses: Mapping[str, Response | str] | None,
    criteria: Sequence[str],
    new_call: NewLesionCall,
) -> hd.sr.ContainerContentItem:
    container = hd.sr.ContainerContentItem(
        name=_QUALITATIVE, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS
    )
    items = hd.sr.ContentSequence(is_root=False)
    given = dict(responses or {})
    unknown = sorted(set(given) - set(CRITERIA_CODES))
    if unknown:
        raise ExportError(
            f"responses: unknown criteria {unknown}; use "
            + ", ".join(repr(k) for k in CRITERIA_CODES)
            + "."
        )
    for name in criteria:
        if name not in CRITERIA_CODES:
            raise ExportError(
                f"criteria: unknown name {name!r}; use "
                + ", ".join(repr(k) for k in CRITERIA_CODES)
                + "."
            )
        if name not in given:
            continue
        try:
            response = Response(given[name])
        except ValueError:
            raise ExportError(
                f"responses[{name!r}]: expected one of "
                + ", ".join(r.value for r in Response)
                + f", received {given[name]!r}."
            ) from None
        item = hd.sr.CodeContentItem(
            name=_OVERALL_RESPONSE,
            value=RESPONSE_CODES[response],
            relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
        )
        item.ContentSequence = hd.sr.ContentSequence(
            [
                hd.sr.CodeContentItem(
                    name=_RESPONSE_METHOD,
                    value=CRITERIA_CODES[name],
                    relationship_type=hd.sr.RelationshipTypeValues.HAS_CONCEPT_MOD,
                )
            ],
            is_root=False,
        )
        items.append(item)
    items.append(
        hd.sr.CodeContentItem(
            name=_NEW_LESION_INDICATOR,
            value=_NEW_CALL_CODES[new_call],
            relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
        )
    )
    container.ContentSequence = items
    return container


def _dicom_datetime(t: dt.datetime) -> tuple[str, str]:
    u = t.astimezone(dt.UTC)
    return u.strftime("%Y%m%d"), u.strftime("%H%M%S.%f")


def to_sr_dataset(
    read: TimepointRead,
    images: Iterable[Dataset],
    *,
    observer_role: str = "Reader",
    responses: Mapping[str, Response | str] | None = None,
    criteria: Sequence[str] = ("recist1.1", "mrecist"),
    time_point_order: int | None = None,
    blinded: bool = True,
    series_number: int = 900,
    manufacturer: str = "readerstation",
) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 Measurement Report of one signed read (see the module docstring).

    Parameters
    ----------
    read : TimepointRead
        A signed read.
    images : iterable of pydicom.Dataset
        The images the read's lines were drawn on (headers suffice: read with
        ``stop_before_pixels=True``); when the read has no lines, at least one image of the
        timepoint's series (it gives the SR its patient and study). Extra images are ignored.
    observer_role : str
        The reader's trial role, ``"Reader 1"`` / ``"Reader 2"``: the observer's name.
    responses : mapping of criteria name to Response, optional
        The timepoint response per criteria (``{"recist1.1": "PR"}``); none at baseline.
    criteria : sequence of str
        Criteria whose responses are written, in this order.
    time_point_order : int, optional
        Order of the timepoint within the subject, 1 = baseline (also sets the time point type:
        Baseline for 1, Posttreatment after).
    blinded : bool
        True: no user name in the file. False: the store account is the observer's login name.
    series_number : int
        SeriesNumber of the SR.
    manufacturer : str
        Manufacturer of the SR (the software).

    Returns
    -------
    highdicom.sr.Comprehensive3DSR
        With deterministic UIDs (derived from subject, timepoint, observer role and version).

    Raises
    ------
    ExportError
        A draft, a missing referenced image (named by its SOPInstanceUID), a line off its image's
        plane, unknown criteria or responses.
    """
    if not isinstance(read, TimepointRead) or not read.is_signed:
        raise ExportError(
            f"save_sr: expected a signed TimepointRead, received {read!r}; sign the read first."
        )
    pool: dict[str, Dataset] = {}
    for ds in images:
        pool.setdefault(str(ds.SOPInstanceUID), ds)
    needed: list[str] = []
    for a in read.lesions:
        m = a.measurement
        for line in () if m is None else (m.long_axis_line, m.short_axis_line, m.viable_line):
            if line is not None and line.sop_instance_uid not in needed:
                needed.append(line.sop_instance_uid)
    who = f"{read.subject.code}/{read.timepoint.label}"
    missing = [u for u in needed if u not in pool]
    if missing:
        raise ExportError(
            f"SR of {who}: the image(s) {', '.join(missing)} that the read's lines were drawn on "
            "were not found; pass the folder that holds the timepoint's series (--images DIR)."
        )
    if needed:
        evidence = [pool[u] for u in needed]
    else:
        same = [d for d in pool.values() if d.get("SeriesInstanceUID") == read.timepoint.series_uid]
        evidence = (same or list(pool.values()))[:1]
        if not evidence:
            raise ExportError(
                f"SR of {who}: no image given; pass one image of the timepoint's series (its "
                "patient and study go into the SR)."
            )
    modality = str(evidence[0].get("Modality", "CT"))
    procedure = _PROCEDURES.get(modality, _PROCEDURES["CT"])
    time_point = hd.sr.TimePointContext(
        time_point=read.timepoint.label,
        time_point_type=None
        if time_point_order is None
        else (_BASELINE if time_point_order == 1 else _POSTTREATMENT),
        time_point_order=time_point_order,
    )
    observer = hd.sr.ObserverContext(
        observer_type=_PERSON,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name=_person_name(observer_role),
            login_name=None if blinded else read.reader,
            role_in_procedure=_READER,
        ),
    )
    groups = [_group(read, a, pool, time_point) for a in read.lesions]
    with warnings.catch_warnings():
        # highdicom checks the images' PatientName, which the SR replaces by the trial code
        warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person")
        return _document(
            read,
            evidence,
            groups,
            observer,
            procedure,
            responses,
            criteria,
            observer_role,
            series_number,
            manufacturer,
        )


def _document(
    read: TimepointRead,
    evidence: list[Dataset],
    groups: list[hd.sr.MeasurementsAndQualitativeEvaluations],
    observer: hd.sr.ObserverContext,
    procedure: CodedConcept,
    responses: Mapping[str, Response | str] | None,
    criteria: Sequence[str],
    observer_role: str,
    series_number: int,
    manufacturer: str,
) -> hd.sr.Comprehensive3DSR:
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=procedure,
        imaging_measurements=groups or None,
    )
    root = report[0]
    root.ContentSequence.append(_response_items(responses, criteria, read.new_lesion_call))
    t = read.timepoint
    signed_at = read.signed_at or dt.datetime.now(dt.UTC)  # always set on a signed read
    meta = {
        "format": FORMAT,
        "subject": read.subject.code,
        "treatment_start": None
        if read.subject.treatment_start is None
        else read.subject.treatment_start.isoformat(),
        "timepoint": t.label,
        "scan_date": None if t.scan_date is None else t.scan_date.isoformat(),
        "study_uid": t.study_uid,
        "series_uid": t.series_uid,
        "phase": t.phase.value,
        "version": read.version,
        "signed_at": signed_at.isoformat(),
        "order": [a.lesion.label for a in read.lesions],
    }
    root.ContentSequence.append(_comment(meta))
    seed = ["readerstation-sr", read.subject.code, t.label, observer_role]
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report[0],
        series_instance_uid=generate_uid(entropy_srcs=[*seed, "series"]),
        series_number=series_number,
        sop_instance_uid=generate_uid(entropy_srcs=[*seed, str(read.version)]),
        instance_number=read.version,
        manufacturer=manufacturer,
        is_complete=True,
        is_final=True,
        series_description=f"Measurement report {observer_role}",
    )
    date, time = _dicom_datetime(signed_at)
    for keyword, value in (
        ("ContentDate", date),
        ("ContentTime", time),
        ("InstanceCreationDate", date),
        ("InstanceCreationTime", time),
        ("PatientBirthDate", ""),
    ):
        setattr(sr, keyword, value)
    # the subject's trial code only, whatever the images carry
    sr.PatientName = _person_name(read.subject.code)
    sr.PatientID = read.subject.code
    sr.PatientSex = ""
    if "ClinicalTrialSponsorName" in sr:  # copied from the images: complete the module
        sr.ClinicalTrialSubjectID = read.subject.code
        for keyword in (
            "ClinicalTrialProtocolName",
            "ClinicalTrialSiteID",
            "ClinicalTrialSiteName",
        ):
            if keyword not in sr:
                setattr(sr, keyword, "")
    return sr


def save_sr(
    read: TimepointRead,
    images: Iterable[Dataset],
    path: str | Path,
    *,
    observer_role: str = "Reader",
    responses: Mapping[str, Response | str] | None = None,
    **options: Any,
) -> Path:
    """Write the TID 1500 Measurement Report of a signed read to ``path`` (a ``.dcm`` file).

    ``options`` go to :func:`to_sr_dataset` (``criteria``, ``time_point_order``, ``blinded``,
    ``series_number``, ``manufacturer``). Returns the path written.
    """
    sr = to_sr_dataset(read, images, observer_role=observer_role, responses=responses, **options)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    sr.save_as(out, enforce_file_format=True)
    return out


# -- the import ------------------------------------------------------------------------------


def _items(item: Any) -> list[Any]:
    return list(getattr(item, "ContentSequence", []) or [])


def _name(item: Any) -> tuple[str, str]:
    return _key(item.ConceptNameCodeSequence[0])


def _find(items: Iterable[Any], key: tuple[str, str]) -> list[Any]:
    return [i for i in items if "ConceptNameCodeSequence" in i and _name(i) == key]


def _code_value(item: Any) -> tuple[str, str]:
    return _key(item.ConceptCodeSequence[0])


def _json(items: Iterable[Any], where: str) -> dict[str, Any]:
    for i in _find(items, _ck(_COMMENT)):
        try:
            data = json.loads(i.TextValue)
        except (TypeError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return {}


def _reverse(codes: Mapping[Any, CodedConcept]) -> dict[tuple[str, str], Any]:
    return {_ck(v): k for k, v in codes.items()}


_ROLE_BY = _reverse(_ROLE_CODES)
_STATE_BY = _reverse(_STATE_CODES)
_STATUS_BY = _reverse(_STATUS_CODES)
_NEW_CALL_BY = _reverse(_NEW_CALL_CODES)
_SEGMENT_BY = _reverse(_SEGMENT_CODES)
_RESPONSE_BY = _reverse(RESPONSE_CODES)
_CRITERIA_BY = _reverse(CRITERIA_CODES)
_ORGAN_BY = {_ck(v): k for k, v in reversed(list(ORGAN_CODES.items()))}


def _num_line(num: Any, where: str) -> LinePoints | None:
    uid: str | None = None
    points: list[tuple[float, float, float]] | None = None
    for child in _items(num):
        vt = child.ValueType
        if vt == "SCOORD":
            for img in _items(child):
                if img.ValueType == "IMAGE":
                    uid = str(img.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
        elif vt == "SCOORD3D":
            data = [float(v) for v in child.GraphicData]
            points = [tuple(data[i : i + 3]) for i in range(0, len(data), 3)]  # type: ignore[misc]
    if points is None and uid is None:
        return None
    if points is None or uid is None or len(points) != 2:
        raise ExportError(
            f"{where}: a line needs an SCOORD on an image and a two-point SCOORD3D; this SR has "
            f"{'no SCOORD3D' if points is None else 'no image reference' if uid is None else f'{len(points)} points'}."
        )
    return LinePoints(points[0], points[1], uid)


def _num_value(num: Any) -> float:
    mv = num.MeasuredValueSequence[0]
    if "FloatingPointValue" in mv:
        return float(mv.FloatingPointValue)
    return float(mv.NumericValue)


def _lesion_from_group(group: Any, subject: str, where: str) -> tuple[LesionAssessment, str]:
    items = _items(group)
    labels = _find(items, _K_TRACKING_ID)
    if not labels:
        raise ExportError(f"{where}: a measurement group has no Tracking Identifier.")
    label = str(labels[0].TextValue)
    where = f"{where} lesion {label}"
    extras = _json(items, where)
    role: LesionRole | None = None
    state_code: tuple[str, str] | None = None
    for q in [i for i in items if i.ValueType == "CODE"]:
        if _name(q) == _ck(_LESION_IDENTIFICATION):
            role = _ROLE_BY.get(_code_value(q))
        elif _name(q) == _ck(_TUMOR_STATE):
            state_code = _code_value(q)
    if role is None:
        raise ExportError(f"{where}: no Lesion Identification (target, non-target or new).")
    segment: LiverSegment | None = None
    site_organ: str | None = None
    for site in _find(items, _K_FINDING_SITE):
        code = _code_value(site)
        if code in _SEGMENT_BY:
            segment = _SEGMENT_BY[code]
            site_organ = "liver"
        elif code in _ORGAN_BY:
            site_organ = _ORGAN_BY[code]
    organ = extras.get("organ") or site_organ or "abdomen"
    values: dict[str, float] = {}
    lines: dict[str, LinePoints | None] = {}
    for num in [i for i in items if i.ValueType == "NUM"]:
        methods = [_code_value(c) for c in _find(_items(num), _K_METHOD)]
        crit = _CRITERIA_BY.get(methods[0]) if methods else "recist1.1"
        name = _name(num)
        if name == _ck(_LONG_AXIS):
            slot = "viable" if crit == "mrecist" else "long"
        elif name == _ck(_SHORT_AXIS):
            slot = "short"
        else:
            continue
        values[slot] = _num_value(num)
        lines[slot] = _num_line(num, f"{where} {slot}")
    lesion = Lesion(
        extras.get("tracking_id") or label,
        label,
        role,
        organ,
        extras.get("location", ""),
        segment if organ == "liver" else None,
        bool(extras.get("nodal", organ in ("lymph_node", "lymph_nodes"))),
        extras.get("typical_hcc"),
        extras.get("kind", "lesion"),
    )
    if role is LesionRole.NON_TARGET:
        status = _STATUS_BY.get(state_code) if state_code else None
        if status is None:
            raise ExportError(f"{where}: a non-target lesion without a Tumor State.")
        return LesionAssessment(
            lesion,
            non_target_status=status,
            cytology_confirmed=bool(extras.get("cytology_confirmed", False)),
        ), label
    measurement: Measurement | None = None
    if values:
        measurement = Measurement(
            MeasurementState.MEASURED,
            values.get("long"),
            values.get("short"),
            values.get("viable"),
            lines.get("long"),
            lines.get("short"),
            lines.get("viable"),
        )
    elif state_code is not None and extras.get("measured", True):
        state = _STATE_BY.get(state_code)
        if state is None:
            raise ExportError(f"{where}: unknown Tumor State {state_code}.")
        measurement = Measurement(state)
    return LesionAssessment(
        lesion,
        measurement=measurement,
        cytology_confirmed=bool(extras.get("cytology_confirmed", False)),
    ), label


def _walk_groups(items: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for i in items:
        if i.ValueType == "CONTAINER" and _name(i) == _K_GROUP:
            out.append(i)
        elif i.ValueType == "CONTAINER":
            out.extend(_walk_groups(_items(i)))
    return out


def _observer(items: Iterable[Any]) -> tuple[str, str | None]:
    role, login = "Reader", None
    for i in items:
        if i.get("RelationshipType") != "HAS OBS CONTEXT":
            continue
        if _name(i) == _K_PERSON_NAME:
            # tolerant reading: some writers (older highdicom) store the name as TEXT
            role = str(i.get("PersonName") or i.get("TextValue") or role).rstrip("^")
        elif _name(i) == _K_LOGIN:
            login = str(i.TextValue)
    return role, login


def _from_dataset(ds: Dataset, where: str) -> SrReport:
    if getattr(ds, "Modality", None) != "SR" or "ContentSequence" not in ds:
        raise ExportError(f"{where}: not a DICOM SR document (Modality {ds.get('Modality')!r}).")
    root = ds
    if _name(root) != ("DCM", "126000"):
        raise ExportError(
            f"{where}: not a TID 1500 Imaging Measurement Report (title {_name(root)})."
        )
    items = _items(root)
    meta = _json(items, where)
    observer_role, login = _observer(items)
    responses: dict[str, Response] = {}
    new_call = NewLesionCall.NONE
    for container in _find(items, _ck(_QUALITATIVE)):
        for q in _items(container):
            if _name(q) == _ck(_OVERALL_RESPONSE):
                methods = _find(_items(q), _ck(_RESPONSE_METHOD))
                crit = _CRITERIA_BY.get(_code_value(methods[0])) if methods else None
                response = _RESPONSE_BY.get(_code_value(q))
                if crit is not None and response is not None:
                    responses[crit] = response
            elif _name(q) == _ck(_NEW_LESION_INDICATOR):
                new_call = _NEW_CALL_BY.get(_code_value(q), NewLesionCall.NONE)
    subject_code = str(meta.get("subject") or ds.PatientID)
    assessments: dict[str, LesionAssessment] = {}
    label_tp: str | None = None
    order: int | None = None
    for g in _walk_groups(items):
        a, label = _lesion_from_group(g, subject_code, where)
        assessments[label] = a
        for tp in _find(_items(g), _K_TIME_POINT):
            label_tp = str(tp.TextValue)
        for o in _find(_items(g), _K_TIME_POINT_ORDER):
            order = int(_num_value(o))
    wanted = [lbl for lbl in meta.get("order", []) if lbl in assessments]
    lesions = [assessments[lbl] for lbl in wanted] + [
        a for lbl, a in assessments.items() if lbl not in wanted
    ]
    tp_label = str(meta.get("timepoint") or label_tp or "")
    signed = meta.get("signed_at")
    if signed:
        signed_at = dt.datetime.fromisoformat(signed)
    else:
        signed_at = dt.datetime.strptime(
            f"{ds.ContentDate}{str(ds.ContentTime).split('.')[0]}", "%Y%m%d%H%M%S"
        ).replace(tzinfo=dt.UTC)
    scan = meta.get("scan_date")
    start = meta.get("treatment_start")
    try:
        read = TimepointRead(
            subject=Subject(subject_code, None if not start else dt.date.fromisoformat(start)),
            timepoint=Timepoint(
                tp_label,
                None if not scan else dt.date.fromisoformat(scan),
                meta.get("study_uid", str(ds.StudyInstanceUID)),
                meta.get("series_uid"),
                meta.get("phase", "unknown"),
            ),
            reader=login or _observer_code(observer_role),
            lesions=tuple(lesions),
            new_lesion_call=new_call,
            status=ReadStatus.SIGNED,
            version=int(meta.get("version", getattr(ds, "InstanceNumber", 1) or 1)),
            signed_at=signed_at,
        )
    except ModelError as exc:
        raise ExportError(f"{where}: the SR does not make a valid read: {exc}") from None
    return SrReport(read, observer_role, responses, order)


def load_sr_report(path: str | Path) -> SrReport:
    """Read an SR written by :func:`save_sr`: the read, observer role, responses, TP order.

    Raises
    ------
    ExportError
        Not a TID 1500 measurement report, or content that makes no valid read.
    """
    p = Path(path)
    try:
        ds = dcmread(p)
    except (OSError, ValueError) as exc:
        raise ExportError(f"{p}: cannot be read as DICOM ({exc}).") from None
    report = _from_dataset(ds, str(p))
    return SrReport(report.read, report.observer_role, report.responses, report.time_point_order, p)


def load_sr(path: str | Path) -> TimepointRead:
    """The signed :class:`TimepointRead` stored in an SR written by :func:`save_sr`.

    Lengths come back exactly (FloatingPointValue), end points to float32 precision (under
    1e-4 mm within +-1000 mm), SOP instance UIDs, labels, roles, states, segments as written. A
    blinded SR gives the reader as the observer role (``"Reader 1"`` -> ``"Reader_1"``).
    """
    return load_sr_report(path).read
