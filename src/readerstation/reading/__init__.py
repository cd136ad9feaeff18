"""Reading: a reader's worklist and session, every gesture a scripted call autosaved as a draft.

* :class:`ReadingSession`: worklist, open (draft restored or started, lesions carried forward),
  lesions, lines in LPS mm, seeded proposals, states, criteria findings, sign, amend.
* :class:`Charter` (:mod:`~readerstation.reading.charter`): the dual-read charter and its words.
* :func:`compare_reads` (:mod:`~readerstation.reading.discrepancy`): two readers' results on the
  charter variables, with the measurement-level causes of their differences.
* :func:`compute_agreement` (:mod:`~readerstation.reading.agreement`): kappa, ICC, Bland-Altman,
  adjudication and endorsement rates, Reader Disagreement Index.
* :class:`DicomFolderSource`: the images, found by subject code and StudyInstanceUID.
* :func:`seed_sample_trial`: a demo store for the sample trial.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from readerstation.reading.agreement import AgreementReport, PairOutcome, compute_agreement
    from readerstation.reading.charter import (
        AdjudicationReason,
        AdjudicationVariable,
        Charter,
        DiscrepancyCause,
    )
    from readerstation.reading.discrepancy import Cause, Comparison, compare_reads
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

# Names are imported on first use: the session pulls in the measurement stack (scipy, ~1 s) and
# the store, which the pure dual-reading modules (charter, discrepancy, agreement) do not need.
_LAZY = {
    "AdjudicationReason": "charter",
    "AdjudicationVariable": "charter",
    "Charter": "charter",
    "DiscrepancyCause": "charter",
    "Cause": "discrepancy",
    "Comparison": "discrepancy",
    "compare_reads": "discrepancy",
    "AgreementReport": "agreement",
    "PairOutcome": "agreement",
    "compute_agreement": "agreement",
    "DicomFolderSource": "images",
    "DEMO_PASSWORD": "sample",
    "SampleTrialAccounts": "sample",
    "seed_sample_trial": "sample",
    "DEFAULT_CRITERIA": "session",
    "LineKind": "session",
    "ReadingFindings": "session",
    "ReadingSession": "session",
    "ReadingTask": "session",
    "TaskStatus": "session",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'readerstation.reading' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"readerstation.reading.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "DEFAULT_CRITERIA",
    "DEMO_PASSWORD",
    "AdjudicationReason",
    "AdjudicationVariable",
    "AgreementReport",
    "Cause",
    "Charter",
    "Comparison",
    "DicomFolderSource",
    "DiscrepancyCause",
    "LineKind",
    "PairOutcome",
    "ReadingFindings",
    "ReadingSession",
    "ReadingTask",
    "SampleTrialAccounts",
    "TaskStatus",
    "compare_reads",
    "compute_agreement",
    "seed_sample_trial",
]
