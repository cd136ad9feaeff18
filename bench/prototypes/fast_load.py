"""Prototype: load a single-frame series straight into one preallocated array.

* Plan (headers only): :mod:`fast_header` gives every file's geometry and the byte offset of its
  Pixel Data value; slices are sorted by position along the slice normal.
* Uncompressed: ``os.preadv`` of the pixel data value into ``out[k]`` (no intermediate bytes
  object), then the rescale to HU in place on the cache-hot slice.
* Compressed (RLE, JPEG-LS, JPEG 2000): a pool of worker processes (2 on this machine) decodes
  chunks of slices with the fastest decoder measured here (pylibjpeg-rle, CharLS via pyjpegls,
  OpenJPEG via pylibjpeg for JPEG 2000) and writes them into an output array in shared memory, so
  nothing is pickled back. ``progress(done, total)`` fires after every chunk, in the caller's
  thread, so a viewer can show the array while it fills.

The output dtype is int16 HU when the rescale is an integer intercept with slope 1 and the stored
values fit (CT), else float32. This is a benchmark prototype for ``readerstation.dicom``'s owner.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import struct
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np
from fast_header import FastHeader, read_fast_header  # type: ignore[import-not-found]
from numpy.typing import NDArray

__all__ = ["DecodePool", "FastPlan", "SharedArray", "derive_fast_plan", "empty_shared", "load_fast"]

_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_IMPLICIT = "1.2.840.10008.1.2"
_RLE = "1.2.840.10008.1.2.5"
_JLS = ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81")
_J2K = ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91")


@dataclass(frozen=True)
class FastPlan:
    """Sorted slices of one series and what is needed to place their pixels."""

    headers: tuple[FastHeader, ...]
    shape: tuple[int, int, int]  # (z, y, x)
    stored_dtype: str  # numpy dtype of the stored pixels, e.g. "<u2"
    bits_stored: int
    transfer_syntax: str
    slope: float
    intercept: float

    @property
    def out_dtype(self) -> np.dtype:
        """int16 when the rescale keeps integer HU inside int16, else float32."""
        st = np.dtype(self.stored_dtype)
        signed = st.kind == "i"
        lo = -(2 ** (self.bits_stored - 1)) if signed else 0
        hi = 2 ** (self.bits_stored - 1) - 1 if signed else 2**self.bits_stored - 1
        if self.slope == 1.0 and float(self.intercept).is_integer():
            if -32768 <= lo + self.intercept and hi + self.intercept <= 32767:
                return np.dtype(np.int16)
            if st.itemsize == 2 and self.intercept == 0:
                return st
        return np.dtype(np.float32)

    @property
    def compressed(self) -> bool:
        """Whether the pixel data is encapsulated (needs a decoder)."""
        return self.transfer_syntax not in (_EXPLICIT_LE, _IMPLICIT)


def derive_fast_plan(paths: Sequence[str | Path]) -> FastPlan:
    """Parse headers with the minimal parser and sort the slices along the slice normal."""
    headers = [read_fast_header(str(p)) for p in paths]
    if any(h is None for h in headers):
        raise ValueError("a file is not little-endian Part 10 DICOM; use pydicom for this series")
    hs = [h for h in headers if h is not None]
    ori = np.asarray(hs[0].get("orientation"), dtype=float)
    normal = np.cross(ori[:3], ori[3:])
    hs.sort(key=lambda h: float(np.dot(normal, np.asarray(h.get("position"), dtype=float))))
    h0 = hs[0]
    rows, cols = int(h0.get("rows")), int(h0.get("columns"))  # type: ignore[call-overload]
    bits = int(h0.get("bits_allocated"))  # type: ignore[call-overload]
    signed = int(h0.get("pixel_representation", 0) or 0)  # type: ignore[call-overload]
    stored = f"<{'i' if signed else 'u'}{bits // 8}"
    bits_stored = int(h0.get("bits_stored") or bits)  # type: ignore[call-overload]
    slope = float((h0.get("rescale_slope") or (1.0,))[0])  # type: ignore[index]
    intercept = float((h0.get("rescale_intercept") or (0.0,))[0])  # type: ignore[index]
    for h in hs:
        if (h.get("rows"), h.get("columns"), h.transfer_syntax) != (rows, cols, h0.transfer_syntax):
            raise ValueError(f"{h.path}: matrix or transfer syntax differs from {h0.path}")
    return FastPlan(
        tuple(hs), (len(hs), rows, cols), stored, bits_stored, h0.transfer_syntax, slope, intercept
    )


def _rescale_into(dst: NDArray, raw: NDArray, slope: float, intercept: float) -> None:
    """dst = raw * slope + intercept; for integer dst the stored values are known to fit."""
    if dst.dtype.kind == "f":
        np.multiply(raw, slope, out=dst, casting="unsafe")
        dst += intercept
        return
    src = raw.view(dst.dtype) if raw.dtype.itemsize == dst.dtype.itemsize else raw
    np.add(src, dst.dtype.type(intercept), out=dst, casting="unsafe")


def _load_native(
    plan: FastPlan, out: NDArray, progress: Callable[[int, int], None] | None, every: int = 16
) -> None:
    n, rows, cols = plan.shape
    nbytes = rows * cols * np.dtype(plan.stored_dtype).itemsize
    same = np.dtype(plan.stored_dtype).itemsize == out.dtype.itemsize
    scratch = None if same else np.empty((rows, cols), dtype=plan.stored_dtype)
    for k, h in enumerate(plan.headers):
        if h.pixel_length < nbytes:
            raise ValueError(f"{h.path}: pixel data holds {h.pixel_length} bytes, need {nbytes}")
        target = out[k] if same else scratch
        assert target is not None
        fd = os.open(h.path, os.O_RDONLY)
        try:
            got = os.preadv(fd, [memoryview(target).cast("B")], h.pixel_offset)
        finally:
            os.close(fd)
        if got != nbytes:
            raise ValueError(f"{h.path}: read {got} of {nbytes} pixel bytes")
        raw = target.view(plan.stored_dtype) if same else target
        _rescale_into(out[k], raw, plan.slope, plan.intercept)
        if progress is not None and ((k + 1) % every == 0 or k + 1 == n):
            progress(k + 1, n)


# ------------------------------------------------------------------------- compressed, in workers
def _fragments(path: str, offset: int) -> bytes:
    """The concatenated fragments of the first (only) frame of encapsulated pixel data."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    pos = 0
    grp, elem, length = struct.unpack_from("<HHI", data, pos)  # basic offset table item
    pos += 8 + length
    parts = []
    while pos + 8 <= len(data):
        grp, elem, length = struct.unpack_from("<HHI", data, pos)
        pos += 8
        if (grp, elem) == (0xFFFE, 0xE0DD):
            break
        parts.append(data[pos : pos + length])
        pos += length
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _decode_gdcm(path: str, rows: int, cols: int, stored: str) -> NDArray:
    import gdcm

    reader = gdcm.ImageReader()
    reader.SetFileName(path)
    if not reader.Read():
        raise ValueError(f"{path}: GDCM cannot read the file")
    raw = reader.GetImage().GetBuffer().encode("utf-8", "surrogateescape")
    return np.frombuffer(raw, dtype=stored).reshape(rows, cols)


def _decode(ts: str, path: str, offset: int, rows: int, cols: int, stored: str) -> NDArray:
    if ts == _RLE:
        from rle.utils import decode_frame

        nbits = 8 * np.dtype(stored).itemsize
        buf = decode_frame(_fragments(path, offset), rows * cols, nbits, "<")
        return np.frombuffer(buf, dtype=stored).reshape(rows, cols)
    if ts in _JLS:
        import jpeg_ls

        buf = jpeg_ls.decode_from_buffer(_fragments(path, offset))
        return np.frombuffer(buf, dtype=stored).reshape(rows, cols)
    if ts in _J2K:
        # OpenJPEG via pylibjpeg-openjpeg: 14.5 ms per slice here, GDCM's ImageReader 18-19 ms
        try:
            import openjpeg
        except ImportError:
            return _decode_gdcm(path, rows, cols, stored)
        return openjpeg.decode(_fragments(path, offset)).view(stored).reshape(rows, cols)
    raise ValueError(f"no decoder in this prototype for transfer syntax {ts}")


def _attach(shm_name: str) -> shared_memory.SharedMemory:
    """In a worker: map the caller's output segment (cheap: pages fault in as written).

    Workers map the segment per task and unmap it after, so they never keep a finished
    volume's memory alive. forkserver workers share the creator's resource tracker, so
    attaching only re-registers the same name; the creator unlinks it after the load.
    """
    return shared_memory.SharedMemory(name=shm_name)


def _decode_chunk(
    shm_name: str,
    shape: tuple[int, int, int],
    out_dtype: str,
    ts: str,
    stored: str,
    slope: float,
    intercept: float,
    jobs: list[tuple[int, str, int]],
) -> int:
    shm = _attach(shm_name)
    try:
        out = np.ndarray(shape, dtype=out_dtype, buffer=shm.buf)
        for k, path, offset in jobs:
            raw = _decode(ts, path, offset, shape[1], shape[2], stored)
            _rescale_into(out[k], raw, slope, intercept)
        del out
    finally:
        shm.close()
    return len(jobs)


class SharedArray(np.ndarray):
    """A numpy array in POSIX shared memory; workers attach to it by ``shm.name``.

    The array owns its segment (attribute ``shm``), so views keep the mapping alive. The name is
    unlinked as soon as a load finishes; the memory is freed when the last view dies.
    """

    shm: shared_memory.SharedMemory


def empty_shared(shape: tuple[int, ...], dtype: np.dtype) -> SharedArray:
    """An uninitialised :class:`SharedArray` of ``shape`` and ``dtype``."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    shm = shared_memory.SharedMemory(create=True, size=max(size, 1))
    arr = np.ndarray(shape, dtype=dtype, buffer=shm.buf).view(SharedArray)
    arr.shm = shm
    return arr


class DecodePool:
    """A persistent pool of decoder processes (start once per session, reuse for every load)."""

    def __init__(self, workers: int = 2, start_method: str = "forkserver") -> None:
        ctx = mp.get_context(start_method)
        self.workers = workers
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        # start the workers now and import the decoders there, so the first load is not charged
        list(self.executor.map(_warm, range(2 * workers)))

    def decode_into(
        self,
        plan: FastPlan,
        out: SharedArray,
        progress: Callable[[int, int], None] | None = None,
        chunk: int = 8,
    ) -> None:
        """Decode every slice of ``plan`` into ``out`` (shape ``plan.shape``)."""
        n = plan.shape[0]
        jobs = [(k, h.path, h.pixel_offset) for k, h in enumerate(plan.headers)]
        futs = [
            self.executor.submit(
                _decode_chunk,
                out.shm.name,
                plan.shape,
                out.dtype.str,
                plan.transfer_syntax,
                plan.stored_dtype,
                plan.slope,
                plan.intercept,
                jobs[i : i + chunk],
            )
            for i in range(0, n, chunk)
        ]
        done = 0
        try:
            for fut in as_completed(futs):
                done += fut.result()
                if progress is not None:
                    progress(done, n)
        finally:
            for fut in futs:
                fut.cancel()

    def close(self) -> None:
        """Stop the workers."""
        self.executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _warm(_: int) -> int:
    import jpeg_ls  # noqa: F401
    import openjpeg  # noqa: F401
    import rle.utils  # noqa: F401

    time.sleep(0.05)  # so that every worker gets a warm-up task
    return os.getpid()


def load_fast(
    plan: FastPlan,
    *,
    pool: DecodePool | None = None,
    out: NDArray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> NDArray:
    """Load ``plan`` into ``out`` (allocated when None) and return the array (z, y, x) HU.

    Compressed series need ``pool``; their ``out`` must come from :func:`empty_shared` (or be
    None). A :class:`SharedArray` is unlinked after the load (its memory stays mapped here).
    """
    if not plan.compressed:
        arr = np.empty(plan.shape, dtype=plan.out_dtype) if out is None else out
        _load_native(plan, arr, progress)
        return arr
    if pool is None:
        raise ValueError("compressed series need a DecodePool")
    if out is not None and not isinstance(out, SharedArray):
        raise ValueError("compressed series decode into a SharedArray (see empty_shared)")
    shared = empty_shared(plan.shape, plan.out_dtype) if out is None else out
    try:
        pool.decode_into(plan, shared, progress)
    finally:
        shared.shm.unlink()
    return shared
