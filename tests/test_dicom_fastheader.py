"""The minimal header parser gives the same FileHeader as the pydicom path, field by field, on
every real test file (/work/shared/testdata/dicom, files no one here wrote) and on sample_dicom;
the index built from it is the same too."""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import pytest

import readerstation.dicom.headers as headers_module
from readerstation.dicom import index_folder, read_file_header
from readerstation.dicom.fastheader import read_fast_file_header

REPO = Path(__file__).resolve().parents[1]
TESTDATA = REPO / ".." / "shared" / "testdata" / "dicom"
SAMPLE = REPO / "sample_dicom"


def _files(root: Path) -> list[Path]:
    return sorted(
        Path(d) / f
        for d, _, names in os.walk(root)
        for f in names
        if not f.startswith(".") and f.upper() != "DICOMDIR"
    )


def _outcome(path: Path, fast: bool) -> object:
    try:
        return read_file_header(path, fast=fast)
    except Exception as exc:
        return type(exc).__name__


@pytest.mark.parametrize("root", [TESTDATA, SAMPLE], ids=["shared_testdata", "sample_dicom"])
def test_fast_and_pydicom_headers_identical(root: Path) -> None:
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    files = _files(root)
    if root == SAMPLE:
        files = files[::5]  # 2,200 files from one generator: every fifth keeps the test fast
    used_fast = 0
    for path in files:
        ref = _outcome(path, fast=False)
        got = _outcome(path, fast=True)
        if read_fast_file_header(path) if path.stat().st_size else None:
            used_fast += 1
        if isinstance(ref, headers_module.FileHeader) and isinstance(
            got, headers_module.FileHeader
        ):
            for f in fields(ref):
                assert getattr(got, f.name) == getattr(ref, f.name), (path, f.name)
        else:
            assert got == ref, path
    assert used_fast > len(files) // 2, f"fast parser used on only {used_fast} of {len(files)}"


def test_index_identical_on_shared_testdata(monkeypatch: pytest.MonkeyPatch) -> None:
    if not TESTDATA.is_dir():
        pytest.skip(f"{TESTDATA} is absent")
    fast = index_folder(TESTDATA)
    monkeypatch.setattr(headers_module, "read_fast_file_header", lambda p: None)
    slow = index_folder(TESTDATA)
    assert fast == slow
    assert [s.headers for s in fast.series] == [s.headers for s in slow.series]
