"""Response engine: timepoint -> subject -> trial derivations, statistics and plots.

>>> from readerstation.engine import Timeline, derive_subject_responses, derive_trial_summary
>>> from readerstation.criteria import Recist11Criteria
>>> tl = Timeline.from_json({"subjects": [{"subject": "S01", "treatment_start": "2022-01-10",
...     "assessments": [
...       {"date": "2022-01-05", "targets": [{"lesion": "T1", "organ": "liver", "nodal": False,
...        "diameter_mm": 50.0}], "non_targets": [], "new_lesions": "none"},
...       {"date": "2022-02-21", "targets": [{"lesion": "T1", "organ": "liver", "nodal": False,
...        "diameter_mm": 30.0}], "non_targets": [], "new_lesions": "none"},
...       {"date": "2022-04-04", "targets": [{"lesion": "T1", "organ": "liver", "nodal": False,
...        "diameter_mm": 28.0}], "non_targets": [], "new_lesions": "none"}]}]})
>>> [r.best_overall_response.value for r in derive_subject_responses(tl, Recist11Criteria())]
['PR']
"""

from readerstation.engine.model import (
    Assessment,
    NewLesion,
    NonTargetAssessment,
    SubjectTimeline,
    TargetMeasurement,
    Timeline,
    load_timeline,
)
from readerstation.engine.stats import (
    DAYS_PER_MONTH,
    KaplanMeierResult,
    ProportionResult,
    compute_kaplan_meier,
    compute_proportion,
)
from readerstation.engine.subject import SubjectResult, derive_subject_response
from readerstation.engine.timepoint import TimepointResult, derive_timepoints
from readerstation.engine.trial import (
    TrialSummary,
    derive_subject_responses,
    derive_trial_summary,
)

__all__ = [
    "DAYS_PER_MONTH",
    "Assessment",
    "KaplanMeierResult",
    "NewLesion",
    "NonTargetAssessment",
    "ProportionResult",
    "SubjectResult",
    "SubjectTimeline",
    "TargetMeasurement",
    "Timeline",
    "TimepointResult",
    "TrialSummary",
    "compute_kaplan_meier",
    "compute_proportion",
    "derive_subject_response",
    "derive_subject_responses",
    "derive_timepoints",
    "derive_trial_summary",
    "load_timeline",
]
