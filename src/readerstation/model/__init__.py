"""The reading domain as plain typed objects, valid once constructed.

Subject, Timepoint, Lesion, LinePoints, Measurement, LesionAssessment and TimepointRead, with the
criteria's own Enums re-exported from :mod:`readerstation.criteria.enums` (not redefined) and the
reading-specific ones from :mod:`readerstation.model.enums`. ``to_subject_timeline`` turns a
subject's signed reads into the response engine's input.
"""

from __future__ import annotations

from readerstation.criteria.enums import (
    DiameterCall,
    LesionKind,
    NewLesionCall,
    NonTargetStatus,
    Response,
)
from readerstation.model.entities import (
    LINE_LENGTH_TOLERANCE_MM,
    Lesion,
    LesionAssessment,
    LinePoints,
    Measurement,
    Point,
    Subject,
    Timepoint,
    TimepointRead,
    normalise_organ,
)
from readerstation.model.enums import (
    LesionRole,
    LiverSegment,
    MeasurementState,
    ReadStatus,
    UserRole,
)
from readerstation.model.timeline import to_assessment, to_subject_timeline


def __getattr__(name: str) -> object:
    # ``Phase`` (the contrast phase of a Timepoint) lives in readerstation.dicom.phase; it is
    # re-exported lazily because importing readerstation.dicom loads pydicom.
    if name == "Phase":
        from readerstation.dicom.phase import Phase

        return Phase
    raise AttributeError(f"module 'readerstation.model' has no attribute {name!r}")


__all__ = [
    "LINE_LENGTH_TOLERANCE_MM",
    "DiameterCall",
    "Lesion",
    "LesionAssessment",
    "LesionKind",
    "LesionRole",
    "LinePoints",
    "LiverSegment",
    "Measurement",
    "MeasurementState",
    "NewLesionCall",
    "NonTargetStatus",
    "Point",
    "ReadStatus",
    "Response",
    "Subject",
    "Timepoint",
    "TimepointRead",
    "UserRole",
    "normalise_organ",
    "to_assessment",
    "to_subject_timeline",
]
