"""Reading: a reader's worklist and session, every gesture a scripted call autosaved as a draft.

* :class:`ReadingSession`: worklist, open (draft restored or started, lesions carried forward),
  lesions, lines in LPS mm, seeded proposals, states, criteria findings, sign, amend.
* :class:`DicomFolderSource`: the images, found by subject code and StudyInstanceUID.
* :func:`seed_sample_trial`: a demo store for the sample trial.
"""

from readerstation.reading.images import DicomFolderSource
from readerstation.reading.sample import DEMO_PASSWORD, SampleTrialAccounts, seed_sample_trial
from readerstation.reading.session import (
    DEFAULT_CRITERIA,
    LineKind,
    ReadingFindings,
    ReadingSession,
    ReadingTask,
    TaskStatus,
)

__all__ = [
    "DEFAULT_CRITERIA",
    "DEMO_PASSWORD",
    "DicomFolderSource",
    "LineKind",
    "ReadingFindings",
    "ReadingSession",
    "ReadingTask",
    "SampleTrialAccounts",
    "TaskStatus",
    "seed_sample_trial",
]
