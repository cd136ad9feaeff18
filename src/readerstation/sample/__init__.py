"""A synthetic multi-phase liver CT trial (numpy + pydicom only) and benchmark CT series.

The sample trial has three subjects (responder, stable, progressing), each with a baseline and
three follow-ups six weeks apart, each a non-contrast / arterial / portal-venous CT study, with a
ground truth of every lesion's true diameters and the expected RECIST 1.1 and mRECIST responses.
See ``sample_dicom/README.md``.
"""

from readerstation.sample.design import (
    ContrastPhase,
    Ellipsoid,
    LesionRole,
    LesionState,
    LesionTrack,
    SubjectDesign,
    TimepointDesign,
    derive_trial_design,
)
from readerstation.sample.phantom import (
    Label,
    PhaseAttenuation,
    SliceGrid,
    compute_hu_slice,
    compute_label_slice,
)
from readerstation.sample.trial import (
    DEFAULT_GRID,
    SMALL_GRID,
    GenerationSummary,
    derive_ground_truth,
    derive_timelines,
    generate_trial,
)
from readerstation.sample.writer import derive_uid

__all__ = [
    "DEFAULT_GRID",
    "SMALL_GRID",
    "ContrastPhase",
    "Ellipsoid",
    "GenerationSummary",
    "Label",
    "LesionRole",
    "LesionState",
    "LesionTrack",
    "PhaseAttenuation",
    "SliceGrid",
    "SubjectDesign",
    "TimepointDesign",
    "compute_hu_slice",
    "compute_label_slice",
    "derive_ground_truth",
    "derive_timelines",
    "derive_trial_design",
    "derive_uid",
    "generate_trial",
]
