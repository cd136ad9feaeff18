"""The sample trial's ground truth for the UI tests (``make sample`` writes it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SAMPLE = Path(__file__).resolve().parents[3] / "sample_dicom"
TRUTH = SAMPLE / "ground_truth.json"


def load_sample_truth() -> dict[str, Any]:
    """``sample_dicom/ground_truth.json`` (the subjects' lesions, end points in LPS mm); skips
    the calling test when the sample trial (with HCC-001) has not been built."""
    if not TRUTH.is_file() or not (SAMPLE / "HCC-001").is_dir():
        pytest.skip(f"{TRUTH} or sample_dicom/HCC-001 missing: run `make sample`")
    doc: dict[str, Any] = json.loads(TRUTH.read_text(encoding="utf-8"))
    return doc
