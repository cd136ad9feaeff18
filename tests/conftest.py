"""Shared fixtures for the core tests (no display needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTDATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "testdata"


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The shared real test data folder (``../shared/testdata``); skips the test when absent."""
    if not (TESTDATA / "README.md").is_file():
        pytest.skip(f"real test data not found at {TESTDATA.resolve()} (see its README.md)")
    return TESTDATA.resolve()


@pytest.fixture(scope="session")
def dicom_testdata(testdata: Path) -> Path:
    """``testdata/dicom``: real DICOM files nobody on this project wrote."""
    path = testdata / "dicom"
    if not path.is_dir():
        pytest.skip(f"{path} is missing")
    return path
