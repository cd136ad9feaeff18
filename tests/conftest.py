"""Shared fixtures for the core tests (no display needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTDATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "testdata"


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI the real test data must be there: a skip would hide every real-data check."""
    if os.environ.get("CI") and not (TESTDATA / "README.md").is_file():
        raise pytest.UsageError(
            f"CI is set but the real test data is missing at {TESTDATA.resolve()}; CI must run with "
            "shared/ beside the clone (the real-data tests would otherwise all be skipped)"
        )


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
