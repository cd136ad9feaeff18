"""A planned series decoded slice by slice into one buffer: on demand (napari) or in order (thread).

The drag-and-drop reader shows a series before it is decoded: napari gets a dask array with one
chunk per slice whose chunks come from :class:`SliceFiller`, which decodes the file of a slice the
first time it is asked for (napari asks for the slice it displays) and otherwise lets a background
thread decode the rest in :meth:`SliceFiller.fill_order`. Both write into the same numpy buffer,
which replaces the dask array once every slice is in (see ``_reader.py``). No Qt here.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
from numpy.typing import NDArray

from readerstation import dicom
from readerstation.errors import DicomError

__all__ = ["SliceFiller", "to_rescaled"]

_log = logging.getLogger(__name__)


def to_rescaled(dst: NDArray[Any], stored: NDArray[Any], slope: float, intercept: float) -> None:
    """Write ``stored * slope + intercept`` (e.g. HU) into ``dst`` (one slice, (y, x)) in place.

    The core's :func:`readerstation.dicom.rescale_into` does the arithmetic (int16 saturating at
    the int16 range when the plan chose int16, float32 otherwise), so the viewer shows exactly
    the values ``load_series`` gives.
    """
    dicom.rescale_into(dst, stored, slope, intercept)


class SliceFiller:
    """Decodes the slices of a :class:`readerstation.dicom.SeriesPlan` into one (z, y, x) buffer.

    Thread-safe: napari's GUI thread (through :meth:`to_dask`) and one loading thread (through
    :meth:`fill`) may ask for slices at the same time; each file is decoded once, under a lock.

    Parameters
    ----------
    plan : SeriesPlan
        The series: headers read, slices sorted and checked, geometry fixed.

    Attributes
    ----------
    buffer : ndarray (z, y, x)
        The voxels in rescaled units (HU for CT); zero where a slice is not decoded yet.
    volume : Volume
        The series' Volume over ``buffer``, with the plan's geometry, SOPInstanceUIDs and warnings
        (what ``readerstation.dicom.load_series`` returns once ``complete`` is True).
    """

    def __init__(self, plan: Any) -> None:
        self.plan = plan
        self.buffer: NDArray[Any] = plan.empty_array()
        n = int(plan.shape[0])
        self._done = np.zeros(n, dtype=bool)
        self._lock = threading.Lock()
        self._slices_of_file: dict[Path, list[int]] = {}
        for k, source in enumerate(plan.slices):
            self._slices_of_file.setdefault(Path(source.path), []).append(k)
        self.volume = plan.to_volume(self.buffer)

    @property
    def n_slices(self) -> int:
        """Number of slices of the series."""
        return int(self._done.size)

    @property
    def n_done(self) -> int:
        """Number of slices decoded so far."""
        return int(self._done.sum())

    @property
    def complete(self) -> bool:
        """True once every slice is in ``buffer``."""
        return bool(self._done.all())

    def is_done(self, k: int) -> bool:
        """Whether slice ``k`` is decoded."""
        return bool(self._done[k])

    def fill(self, k: int) -> int:
        """Decode slice ``k`` (and the other frames of its file) unless already done.

        Returns
        -------
        int
            Number of slices newly decoded (0 when ``k`` was already done).

        Raises
        ------
        DicomError
            When the file cannot be decoded (the message names it and the fix).
        """
        if self._done[k]:
            return 0
        with self._lock:
            if self._done[k]:
                return 0
            path = Path(self.plan.slices[k].path)
            pixels = dicom.load_stored_pixels(path)
            rows, cols = self.buffer.shape[1], self.buffer.shape[2]
            ks = self._slices_of_file[path]
            for kk in ks:
                source = self.plan.slices[kk]
                if source.frame_index >= pixels.shape[0]:
                    raise DicomError(
                        f"{path}: has {pixels.shape[0]} decoded frame(s); frame "
                        f"{source.frame_index + 1} is missing. The file is truncated; replace it"
                    )
                frame = pixels[source.frame_index]
                if frame.shape != (rows, cols):
                    raise DicomError(
                        f"{path}: decoded frame is {frame.shape[0]}x{frame.shape[1]}; the header "
                        f"says {rows}x{cols}. The file is corrupt; replace it"
                    )
                to_rescaled(self.buffer[kk], frame, source.rescale_slope, source.rescale_intercept)
            self._done[ks] = True
            return len(ks)

    def fill_order(self, first: int | None = None) -> list[int]:
        """Slice indices nearest ``first`` (default: the middle slice) first, then outwards."""
        n = self.n_slices
        centre = (n - 1) // 2 if first is None else int(first)
        return sorted(range(n), key=lambda k: (abs(k - centre), k))

    def _block(self, block_info: dict[Any, Any] | None = None) -> NDArray[Any]:
        k = int(block_info[None]["chunk-location"][0]) if block_info else 0
        try:
            self.fill(k)
        except Exception:  # the loading thread reports it; napari must not get a traceback
            _log.debug("slice %d could not be decoded on demand", k, exc_info=True)
        return np.array(self.buffer[k : k + 1])

    def to_dask(self) -> Any:
        """A dask array (z, y, x) over the series, one chunk per slice, decoded on first read."""
        n, rows, cols = self.buffer.shape
        return da.map_blocks(
            self._block,
            chunks=((1,) * n, (rows,), (cols,)),
            dtype=self.buffer.dtype,
            meta=np.empty((0, 0, 0), dtype=self.buffer.dtype),
            name=f"readerstation-{self.plan.info.series_uid}-{id(self):x}",
        )

    def __repr__(self) -> str:
        return (
            f"SliceFiller(series_uid={self.plan.info.series_uid!r}, "
            f"done={self.n_done}/{self.n_slices})"
        )
