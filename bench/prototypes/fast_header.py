"""Prototype: a minimal DICOM Part 10 header parser for indexing and for planning a fast load.

It reads the first ``chunk`` bytes of a file (more only when the header is longer), walks the
data elements of the file meta group and of the dataset up to Pixel Data (7FE0,0010) without
building pydicom objects, decodes only the handful of tags an index needs, and records where the
pixel data value starts in the file (``pixel_offset``) and how long it is (``pixel_length``,
-1 for encapsulated/compressed data). Nested sequences are skipped, not parsed.

Supported: Explicit VR Little Endian datasets (all compressed transfer syntaxes use it) and
Implicit VR Little Endian. Anything else (big endian, deflate, no DICM preamble) returns ``None``
so that a caller falls back to pydicom. This is a benchmark prototype, not production code: it
has not seen fuzzed or broken files.

Adopted, hardened, as :mod:`readerstation.dicom.fastheader` (which builds a ``FileHeader`` and
refuses whatever it might read differently from pydicom). This copy stays as the benchmark's
baseline (``ix_proto``, ``proto`` in ``bench_dicom.py``) because ``fast_load`` needs what the core
parser leaves out on purpose: the Pixel Data offset of encapsulated (compressed) images.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

__all__ = ["INDEX_TAGS", "FastHeader", "read_fast_header", "read_fast_headers"]

_IMPLICIT = "1.2.840.10008.1.2"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_PIXEL_DATA = 0x7FE00010
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQ_END = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF

#: tag -> (name, kind) decoded by the parser; kind "s" text, "u2" US, "ds" multi-valued decimal.
INDEX_TAGS: dict[int, tuple[str, str]] = {
    0x00080016: ("sop_class_uid", "s"),
    0x00080018: ("sop_instance_uid", "s"),
    0x00080060: ("modality", "s"),
    0x0008103E: ("series_description", "s"),
    0x0020000D: ("study_uid", "s"),
    0x0020000E: ("series_uid", "s"),
    0x00200011: ("series_number", "i"),
    0x00200013: ("instance_number", "i"),
    0x00200032: ("position", "ds"),
    0x00200037: ("orientation", "ds"),
    0x00200052: ("frame_of_reference_uid", "s"),
    0x00280002: ("samples_per_pixel", "u2"),
    0x00280008: ("number_of_frames", "i"),
    0x00280010: ("rows", "u2"),
    0x00280011: ("columns", "u2"),
    0x00280030: ("pixel_spacing", "ds"),
    0x00280100: ("bits_allocated", "u2"),
    0x00280101: ("bits_stored", "u2"),
    0x00280103: ("pixel_representation", "u2"),
    0x00281052: ("rescale_intercept", "ds"),
    0x00281053: ("rescale_slope", "ds"),
}
# implicit VR: which wanted tags are US
_US_TAGS = frozenset(t for t, (_, k) in INDEX_TAGS.items() if k == "u2")


@dataclass(frozen=True)
class FastHeader:
    """What the minimal parser found in one file (values as decoded; absent tags are None)."""

    path: str
    transfer_syntax: str
    values: dict[str, object]
    pixel_offset: int
    pixel_length: int  # bytes of native pixel data; -1 when encapsulated (compressed)

    def get(self, name: str, default: object = None) -> object:
        """A decoded value by its name in :data:`INDEX_TAGS`."""
        return self.values.get(name, default)


class _NeedMore(Exception):
    """The buffer ends before the header does."""


def _decode(kind: str, raw: bytes) -> object:
    if kind == "u2":
        return struct.unpack_from("<H", raw)[0] if len(raw) >= 2 else None
    text = raw.decode("ascii", "replace").strip(" \x00")
    if kind == "s":
        return text
    if kind == "i":
        try:
            return int(text.split("\\")[0])
        except ValueError:
            return None
    try:
        return tuple(float(v) for v in text.split("\\"))
    except ValueError:
        return None


def _skip_undefined(buf: bytes, pos: int, explicit: bool) -> int:
    """Return the position just after the sequence delimiter of an undefined-length sequence."""
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
            raise ValueError(f"expected an item tag, found {tag:08X}")
        if length != _UNDEFINED:
            pos += length
            continue
        # an item of undefined length: walk its elements until the item delimiter
        while True:
            if pos + 8 > n:
                raise _NeedMore
            grp, elem = struct.unpack_from("<HH", buf, pos)
            tag = (grp << 16) | elem
            if tag == _ITEM_END:
                pos += 8
                break
            pos, _, _, _ = _element(buf, pos, explicit)


def _element(buf: bytes, pos: int, explicit: bool) -> tuple[int, int, int, int]:
    """Parse one element at ``pos``: return (next position, tag, value position, value length)."""
    n = len(buf)
    if pos + 8 > n:
        raise _NeedMore
    grp, elem = struct.unpack_from("<HH", buf, pos)
    tag = (grp << 16) | elem
    if explicit and grp != 0xFFFE:
        vr = buf[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > n:
                raise _NeedMore
            length = struct.unpack_from("<I", buf, pos + 8)[0]
            vpos = pos + 12
        else:
            length = struct.unpack_from("<H", buf, pos + 6)[0]
            vpos = pos + 8
    else:
        length = struct.unpack_from("<I", buf, pos + 4)[0]
        vpos = pos + 8
    if tag == _PIXEL_DATA:
        return vpos, tag, vpos, length
    if length == _UNDEFINED:
        end = _skip_undefined(buf, vpos, explicit)
        return end, tag, vpos, -1
    return vpos + length, tag, vpos, length


def _parse(buf: bytes, path: str) -> FastHeader | None:
    if len(buf) < 132 or buf[128:132] != b"DICM":
        return None
    pos = 132
    ts = ""
    # file meta: always explicit VR little endian
    while pos + 8 <= len(buf) and struct.unpack_from("<H", buf, pos)[0] == 0x0002:
        pos, tag, vpos, length = _element(buf, pos, True)
        if tag == 0x00020010:
            ts = buf[vpos : vpos + length].decode("ascii").strip(" \x00")
    if ts == _EXPLICIT_LE or (ts.startswith("1.2.840.10008.1.2.4") or ts == "1.2.840.10008.1.2.5"):
        explicit = True
    elif ts == _IMPLICIT:
        explicit = False
    else:
        return None
    values: dict[str, object] = {}
    while True:
        pos, tag, vpos, length = _element(buf, pos, explicit)
        if tag == _PIXEL_DATA:
            native = length != _UNDEFINED
            return FastHeader(path, ts, values, vpos, length if native else -1)
        if tag > _PIXEL_DATA:
            return FastHeader(path, ts, values, -1, 0)
        spec = INDEX_TAGS.get(tag)
        if spec is not None and length > 0:
            if vpos + length > len(buf):
                raise _NeedMore
            values[spec[0]] = _decode(spec[1], buf[vpos : vpos + length])


def read_fast_header(path: str, *, chunk: int = 4096) -> FastHeader | None:
    """Parse the header of one file, reading ``chunk`` bytes first and more only when needed.

    Returns None when the file is not Part 10 DICOM in a little-endian transfer syntax (the
    caller then uses pydicom).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        size = chunk
        while True:
            buf = os.pread(fd, size, 0)
            try:
                return _parse(buf, path)
            except (_NeedMore, struct.error):
                if len(buf) < size:  # end of file reached: truncated header
                    return None
                size *= 4
    finally:
        os.close(fd)


def read_fast_headers(paths: list[str], *, chunk: int = 4096) -> list[FastHeader | None]:
    """:func:`read_fast_header` for many files, in order."""
    return [read_fast_header(p, chunk=chunk) for p in paths]
