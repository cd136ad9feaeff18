"""SAS transport (XPORT) version 5 files, written column-wise with numpy.

The layout is SAS technical note TS-140 ("The record layout of a data set in SAS transport
(XPORT) format"), the format FDA and PMDA require for SDTM: 80-byte header records, one 140-byte
NAMESTR per variable, then the observations as fixed-width records; numbers are 8-byte IBM 370
(hexadecimal) floating point, missing numbers ``.`` (0x2E then 7 zero bytes), text is ASCII
padded with blanks. Names are at most 8 characters, labels 40, text values 200.

Why not pyreadstat's ``write_xport``: it writes valid files (the tests read ours back with
pandas' and ReadStat's independent readers and compare them with pyreadstat's output) but
inserts every value through Python: 3.7 s for the 1,000-subject benchmark's 6 million cells,
where this writer takes 1.1 s (``bench/bench_sdtm.py``, ``bench/README.md``).

Examples
--------
>>> to_ibm_float(np.array([1.0, -118.625, np.nan])).tobytes().hex(" ", 8)
'4110000000000000 c276a00000000000 2e00000000000000'
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from readerstation.errors import ModelError

__all__ = ["save_xpt_v5", "to_ibm_float"]

_LIBRARY = b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!" + b"0" * 30 + b"  "
_MEMBER = b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!" + b"000000000000000001600000000140  "
_DSCRPTR = b"HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!" + b"0" * 30 + b"  "
_OBS = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!" + b"0" * 30 + b"  "
_NAMESTR = struct.Struct(">hhhh8s40s8shhh2s8shhl52s")  # 140 bytes (TS-140)


def _pad80(b: bytes) -> bytes:
    return b + b" " * (-len(b) % 80)


def _text(value: str, width: int, what: str) -> bytes:
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise ModelError(
            f"save_xpt_v5: {what} {value!r} is not ASCII; SAS transport v5 needs ASCII."
        ) from None
    if len(raw) > width:
        raise ModelError(
            f"save_xpt_v5: {what} {value!r} is longer than {width} characters (SAS transport v5)."
        )
    return raw.ljust(width)


def to_ibm_float(values: np.ndarray) -> np.ndarray:
    """IEEE doubles as 8-byte big-endian IBM 370 floating point (NaN -> SAS missing ``.``).

    Exact for every double whose magnitude lies within IBM's range (about 5.4e-79 to 7.2e75):
    the 53-bit significand, shifted by at most 3 bits, fits the 56-bit IBM fraction.

    Parameters
    ----------
    values : numpy.ndarray of float, shape (n,)

    Returns
    -------
    numpy.ndarray of uint8, shape (n, 8)

    Raises
    ------
    ModelError
        An infinite value, or one outside IBM's range.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    missing = np.isnan(x)
    if np.isinf(x).any():
        raise ModelError("save_xpt_v5: infinite numbers cannot be stored; store them as missing.")
    a = np.where(missing, 0.0, np.abs(x))
    nonzero = a > 0
    m, e2 = np.frexp(a)  # a = m * 2**e2, m in [0.5, 1)
    e16 = -((-e2) // 4)  # ceil(e2 / 4): a = f * 16**e16 with f in [1/16, 1)
    frac = np.ldexp(m, e2 - 4 * e16 + 56).astype(np.uint64)  # exact integer < 2**56
    exponent = e16 + 64
    if ((exponent < 0) | (exponent > 127))[nonzero].any():
        raise ModelError("save_xpt_v5: a number is outside the IBM floating-point range.")
    word = (exponent.astype(np.uint64) << np.uint64(56)) | frac
    word |= np.signbit(x).astype(np.uint64) << np.uint64(63)
    word = np.where(nonzero, word, np.uint64(0))
    word = np.where(missing, np.uint64(0x2E << 56), word)
    return word.astype(">u8").view(np.uint8).reshape(-1, 8)


def _char_block(col: pd.Series, name: str, width: int | None) -> np.ndarray:
    """A text column as an (n, width) block of blank-padded ASCII bytes."""
    if col.dtype != object or col.isna().any():
        col = col.astype(object).where(col.notna(), "").astype(str)
    texts = col.to_numpy(dtype=object)
    try:
        arr = texts.astype("S")  # NUL-padded to the longest value
    except UnicodeEncodeError:
        bad = next(t for t in texts if not t.isascii())
        raise ModelError(
            f"save_xpt_v5: column {name}: value {bad!r} is not ASCII; SAS transport v5 needs ASCII."
        ) from None
    longest = max(1, arr.dtype.itemsize)
    width = longest if width is None else width
    if width < longest or width > 200:
        raise ModelError(
            f"save_xpt_v5: column {name}: width {width} for values of up to {longest} "
            "characters; SAS transport v5 allows 1 to 200."
        )
    block = np.zeros((len(arr), width), dtype=np.uint8)
    if len(arr) and arr.dtype.itemsize:
        block[:, : arr.dtype.itemsize] = arr.view(np.uint8).reshape(len(arr), -1)
    block[block == 0] = 32  # blank-padded, as SAS pads text
    return block


def save_xpt_v5(
    df: pd.DataFrame,
    path: str | Path,
    *,
    name: str,
    label: str = "",
    column_labels: Sequence[str] | None = None,
    char_widths: dict[str, int] | None = None,
    created: dt.datetime | None = None,
) -> Path:
    """Write one data set as a SAS transport v5 file.

    Parameters
    ----------
    df : pandas.DataFrame
        Numeric columns (any numeric dtype; NA -> missing) and text columns (``""`` or NA ->
        blank). Column names: at most 8 characters.
    path : str or Path
        File to write (replaced).
    name : str
        Data set name (at most 8 characters, SDTM: the domain).
    label : str
        Data set label (at most 40 characters).
    column_labels : sequence of str, optional
        One label per column (at most 40 characters each).
    char_widths : dict of str to int, optional
        Storage width of text columns; default the longest value, at least 1 (at most 200).
    created : datetime, optional
        Creation time written in the headers (default now, UTC).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ModelError
        A name, label or value that does not fit version 5 (length, ASCII).
    """
    stamp = (created or dt.datetime.now(dt.UTC)).strftime("%d%b%y:%H:%M:%S").upper().encode()
    names = [str(c) for c in df.columns]
    labels = list(column_labels) if column_labels is not None else [""] * len(names)
    if len(labels) != len(names):
        raise ModelError(
            f"save_xpt_v5: {len(labels)} column labels for {len(names)} columns; give one each."
        )
    n = len(df)
    blocks: list[np.ndarray] = []
    namestrs = []
    pos = 0
    for k, (col_name, col_label) in enumerate(zip(names, labels, strict=True), start=1):
        col = df[col_name]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if numeric:
            values = col.astype("float64").to_numpy(na_value=np.nan)
            blocks.append(to_ibm_float(values))
            ntype, width = 1, 8
        else:
            block = _char_block(col, col_name, (char_widths or {}).get(col_name))
            blocks.append(block)
            width = block.shape[1]
            ntype = 2
        namestrs.append(
            _NAMESTR.pack(
                ntype,
                0,
                width,
                k,
                _text(col_name.upper(), 8, "column name"),
                _text(col_label, 40, "column label"),
                b" " * 8,
                0,
                0,
                0,
                b"\0\0",
                b" " * 8,
                0,
                0,
                pos,
                b"\0" * 52,
            )
        )
        pos += width
    rows = np.concatenate(blocks, axis=1) if blocks and n else np.empty((0, pos), np.uint8)
    head = [
        _LIBRARY,
        b"SAS     SAS     SASLIB  9.4     Linux   " + b" " * 24 + stamp,
        stamp + b" " * 64,
        _MEMBER,
        _DSCRPTR,
        b"SAS     "
        + _text(name.upper(), 8, "data set name")
        + b"SASDATA 9.4     Linux   "
        + b" " * 24
        + stamp,
        stamp + b" " * 16 + _text(label, 40, "data set label") + b" " * 8,
        b"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!000000"
        + f"{len(names):04d}".encode()
        + b"0" * 20
        + b"  ",
        _pad80(b"".join(namestrs)),
        _OBS,
        _pad80(rows.tobytes()),
    ]
    out = Path(path)
    out.write_bytes(b"".join(head))
    return out
