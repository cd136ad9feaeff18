"""A minimal DICOM Part 10 header parser for the index (adopted from ``bench/prototypes``).

:func:`read_fast_file_header` reads the first 4 KiB of a file (more only when the header is
longer), walks the file meta group and the data set up to Pixel Data (7FE0,0010) without building
pydicom objects, keeps only the elements :mod:`readerstation.dicom.headers` needs, skips
sequences without parsing them, and hands the values to the same code that builds a
:class:`~readerstation.dicom.headers.FileHeader` from a pydicom Dataset, so both paths give the
same record.

It *refuses* (returns None, the caller then uses pydicom) anything it is not sure to read exactly
as pydicom does: no ``DICM`` preamble, a transfer syntax other than Implicit / Explicit VR Little
Endian or an encapsulated (compressed) one, big endian, deflate, enhanced multi-frame objects
(functional groups) and NumberOfFrames > 1, non-ASCII or escape-coded text, multi-valued text
with padding inside, numbers that do not parse, malformed VRs, UN elements of undefined length,
no Pixel Data element, or a header that ends before it.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

from pydicom.multival import MultiValue

__all__ = ["read_fast_file_header"]

_IMPLICIT = "1.2.840.10008.1.2"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_SHORT_VRS = frozenset(
    {
        b"AE",
        b"AS",
        b"AT",
        b"CS",
        b"DA",
        b"DS",
        b"DT",
        b"FL",
        b"FD",
        b"IS",
        b"LO",
        b"LT",
        b"PN",
        b"SH",
        b"SL",
        b"SS",
        b"ST",
        b"TM",
        b"UI",
        b"UL",
        b"US",
    }
)
_HEAD = struct.Struct("<HH")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_PIXEL_DATA = 0x7FE00010
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQ_END = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF

# tag -> (pydicom keyword, kind): "t" text, "i" IS, "d" DS, "u" US
_WANTED: dict[int, tuple[str, str]] = {
    0x00080016: ("SOPClassUID", "t"),
    0x00080018: ("SOPInstanceUID", "t"),
    0x00080020: ("StudyDate", "t"),
    0x00080021: ("SeriesDate", "t"),
    0x00080031: ("SeriesTime", "t"),
    0x00080032: ("AcquisitionTime", "t"),
    0x00080033: ("ContentTime", "t"),
    0x00080060: ("Modality", "t"),
    0x0008103E: ("SeriesDescription", "t"),
    0x00080008: ("ImageType", "t"),
    0x00180010: ("ContrastBolusAgent", "t"),
    0x00181042: ("ContrastBolusStartTime", "t"),
    0x00180050: ("SliceThickness", "d"),
    0x00180088: ("SpacingBetweenSlices", "d"),
    0x00181120: ("GantryDetectorTilt", "d"),
    0x00180086: ("EchoNumbers", "i"),
    0x00185100: ("PatientPosition", "t"),
    0x0020000D: ("StudyInstanceUID", "t"),
    0x0020000E: ("SeriesInstanceUID", "t"),
    0x00200011: ("SeriesNumber", "i"),
    0x00200012: ("AcquisitionNumber", "i"),
    0x00200013: ("InstanceNumber", "i"),
    0x00200032: ("ImagePositionPatient", "d"),
    0x00200037: ("ImageOrientationPatient", "d"),
    0x00200052: ("FrameOfReferenceUID", "t"),
    0x00200100: ("TemporalPositionIdentifier", "i"),
    0x00280002: ("SamplesPerPixel", "u"),
    0x00280004: ("PhotometricInterpretation", "t"),
    0x00280008: ("NumberOfFrames", "i"),
    0x00280010: ("Rows", "u"),
    0x00280011: ("Columns", "u"),
    0x00280030: ("PixelSpacing", "d"),
    0x00280100: ("BitsAllocated", "u"),
    0x00280101: ("BitsStored", "u"),
    0x00280103: ("PixelRepresentation", "u"),
    0x00281052: ("RescaleIntercept", "d"),
    0x00281053: ("RescaleSlope", "d"),
}
_FUNCTIONAL_GROUPS = frozenset({0x52009229, 0x52009230})
_META: dict[int, str] = {
    0x00020002: "MediaStorageSOPClassUID",
    0x00020003: "MediaStorageSOPInstanceUID",
    0x00020010: "TransferSyntaxUID",
}


class _Refuse(Exception):
    """The parser is not sure to read this file exactly as pydicom does."""


class _NeedMore(Exception):
    """The buffer ends before the header does."""


class _Elements:
    """The few decoded values, answering ``get`` and ``in`` by keyword like a pydicom Dataset."""

    def __init__(self, values: dict[str, Any], meta: dict[str, str]) -> None:
        self._values = values
        self.file_meta = meta

    def get(self, keyword: str, default: Any = None) -> Any:
        return self._values.get(keyword, default)

    def __contains__(self, keyword: object) -> bool:
        return keyword in self._values


def _decode(kind: str, raw: bytes) -> Any:
    """A value as pydicom would give it to the header code (str, MultiValue of str, int)."""
    if kind == "u":
        if len(raw) != 2:
            raise _Refuse
        return struct.unpack("<H", raw)[0]
    if b"\x1b" in raw:  # ISO 2022 escape sequences: leave character sets to pydicom
        raise _Refuse
    try:
        text = raw.decode("ascii").rstrip("\x00 ")
    except UnicodeDecodeError as exc:
        raise _Refuse from exc
    if text == "":
        return ""
    items = text.split("\\")
    if kind != "t" or len(items) > 1:
        for item in items:
            if item != item.strip(" \x00"):
                raise _Refuse  # padded items: pydicom's per-VR stripping decides
            if kind == "d":
                try:
                    float(item)
                except ValueError as exc:
                    raise _Refuse from exc
            elif kind == "i":
                try:
                    int(item)
                except ValueError as exc:
                    raise _Refuse from exc
    if len(items) == 1:
        return items[0]
    return MultiValue(str, items)


def _skip_undefined(buf: bytes, pos: int, explicit: bool) -> int:
    """Position just after the delimiter of an undefined-length sequence starting at ``pos``."""
    n = len(buf)
    while True:
        if pos + 8 > n:
            raise _NeedMore
        grp, elem, length = struct.unpack_from("<HHI", buf, pos)
        tag = (grp << 16) | elem
        pos += 8
        if tag == _SEQ_END:
            return pos
        if tag != _ITEM:
            raise _Refuse
        if length != _UNDEFINED:
            pos += length
            continue
        while True:
            if pos + 8 > n:
                raise _NeedMore
            grp, elem = struct.unpack_from("<HH", buf, pos)
            if (grp << 16) | elem == _ITEM_END:
                pos += 8
                break
            pos = _element(buf, pos, explicit)[0]


def _element(buf: bytes, pos: int, explicit: bool) -> tuple[int, int, int, int]:
    """One element at ``pos``: (next position, tag, value position, value length)."""
    n = len(buf)
    if pos + 8 > n:
        raise _NeedMore
    grp, elem = struct.unpack_from("<HH", buf, pos)
    tag = (grp << 16) | elem
    if explicit and grp != 0xFFFE:
        vr = buf[pos + 4 : pos + 6]
        if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
            raise _Refuse  # not an explicit VR: pydicom would guess; do not
        if vr in _LONG_VRS:
            if pos + 12 > n:
                raise _NeedMore
            length = struct.unpack_from("<I", buf, pos + 8)[0]
            vpos = pos + 12
            if vr == b"UN" and length == _UNDEFINED:
                raise _Refuse  # its content is implicit VR
        else:
            length = struct.unpack_from("<H", buf, pos + 6)[0]
            vpos = pos + 8
    else:
        length = struct.unpack_from("<I", buf, pos + 4)[0]
        vpos = pos + 8
    if tag == _PIXEL_DATA:
        return vpos, tag, vpos, length
    if length == _UNDEFINED:
        return _skip_undefined(buf, vpos, explicit), tag, vpos, -1
    return vpos + length, tag, vpos, length


def _parse(buf: bytes) -> tuple[_Elements, int, int, int]:
    """(elements, Pixel Data element offset, value offset, value length) or raise."""
    if len(buf) < 132 or buf[128:132] != b"DICM":
        raise _Refuse
    pos = 132
    meta: dict[str, str] = {}
    while True:
        if pos + 8 > len(buf):
            raise _NeedMore
        if struct.unpack_from("<H", buf, pos)[0] != 0x0002:
            break
        pos, tag, vpos, length = _element(buf, pos, True)
        if tag in _META:
            if vpos + length > len(buf):
                raise _NeedMore
            meta[_META[tag]] = buf[vpos : vpos + length].decode("ascii").strip(" \x00")
    ts = meta.get("TransferSyntaxUID", "")
    if ts == _IMPLICIT:
        explicit = False
    elif ts == _EXPLICIT_LE or ts.startswith("1.2.840.10008.1.2.4.") or ts == "1.2.840.10008.1.2.5":
        explicit = True
    else:
        raise _Refuse  # big endian, deflate, private or missing
    values: dict[str, Any] = {}
    n = len(buf)
    head = _HEAD.unpack_from
    u32 = _U32.unpack_from
    u16 = _U16.unpack_from
    wanted = _WANTED
    while True:  # the element walk of _element, inlined: this loop is the index's hot path
        start = pos
        if pos + 8 > n:
            raise _NeedMore
        grp, elem = head(buf, pos)
        tag = (grp << 16) | elem
        if explicit and grp != 0xFFFE:
            vr = buf[pos + 4 : pos + 6]
            if vr in _LONG_VRS:
                if pos + 12 > n:
                    raise _NeedMore
                length = u32(buf, pos + 8)[0]
                vpos = pos + 12
                if vr == b"UN" and length == _UNDEFINED:
                    raise _Refuse
            elif vr in _SHORT_VRS:
                length = u16(buf, pos + 6)[0]
                vpos = pos + 8
            else:
                raise _Refuse  # not an explicit VR: pydicom would guess; do not
        else:
            length = u32(buf, pos + 4)[0]
            vpos = pos + 8
        if tag == _PIXEL_DATA:
            return _Elements(values, meta), start, vpos, length
        if tag >= 0x7FE00000 or tag in _FUNCTIONAL_GROUPS:
            raise _Refuse  # float pixel data, or an enhanced multi-frame object
        if length == _UNDEFINED:
            pos = _skip_undefined(buf, vpos, explicit)
            continue
        pos = vpos + length
        spec = wanted.get(tag)
        if spec is not None:
            if pos > n:
                raise _NeedMore
            values[spec[0]] = _decode(spec[1], buf[vpos:pos])


def read_fast_file_header(path: str | os.PathLike[str], *, chunk: int = 4096) -> Any:
    """Parse the header of one file with the minimal parser.

    Parameters
    ----------
    path : path-like
        The file.
    chunk : int
        Bytes read first (x4 each time the header turns out longer).

    Returns
    -------
    FileHeader or None
        The same record as :func:`readerstation.dicom.headers.read_file_header`'s pydicom path,
        or None when the parser refuses the file (see the module docstring).

    Raises
    ------
    OSError
        When the file cannot be opened.
    """
    from readerstation.dicom.headers import _header_from_dataset

    p = Path(path)
    fd = os.open(p, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        want = chunk
        while True:
            buf = os.pread(fd, want, 0)
            try:
                elements, elem_offset, vpos, length = _parse(buf)
                break
            except (_NeedMore, struct.error):
                if len(buf) < want:  # end of file before the Pixel Data element
                    return None
                want *= 4
            except (_Refuse, UnicodeDecodeError, IndexError):
                return None
    finally:
        os.close(fd)
    nframes = elements.get("NumberOfFrames")
    if nframes not in (None, "", "1"):
        return None  # multi-frame: pydicom path
    return _header_from_dataset(p, elements, True, elem_offset, (vpos, length, size))
