"""Volumes in patient space: voxels (z, y, x) plus the geometry that places them in LPS millimetres.

This is the one module that knows about axis orders. Conventions, used everywhere else:

* numpy arrays are indexed ``[z, y, x]`` = ``[slice, row, column]``;
* ``spacing`` is ``(z, y, x)`` in mm; DICOM PixelSpacing is ``(row spacing, column spacing)``, i.e.
  ``(y, x)``: ``spacing[1:] == PixelSpacing``;
* ``direction`` is a 3x3 matrix whose **columns** are the patient LPS unit vectors of increasing
  column index x, row index y and slice index z (DICOM ImageOrientationPatient gives the first two:
  ``IOP[:3]`` is the x column, ``IOP[3:]`` the y column);
* ITK / SimpleITK use ``(x, y, z)``: :func:`to_itk_index` and :func:`from_itk_index` convert.

Non-uniform slice spacing and gantry tilt are represented exactly: ``slice_positions`` holds the
LPS position of voxel ``[k, 0, 0]`` of every slice ``k``, and index <-> patient conversions use it.
The nominal ``spacing[0]`` and ``direction[:, 2]`` then describe the stack only approximately (for
display); measurements always go through :meth:`Volume.index_to_patient`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from readerstation.errors import GeometryError

__all__ = ["Volume", "from_itk_index", "to_itk_index"]

_ORTHO_TOL = 1e-3


def to_itk_index(zyx: Sequence[float]) -> tuple[float, float, float]:
    """Convert a numpy-order ``(z, y, x)`` triple to ITK order ``(x, y, z)``."""
    z, y, x = zyx
    return (x, y, z)


def from_itk_index(xyz: Sequence[float]) -> tuple[float, float, float]:
    """Convert an ITK-order ``(x, y, z)`` triple to numpy order ``(z, y, x)``."""
    x, y, z = xyz
    return (z, y, x)


@dataclass(frozen=True, eq=False)
class Volume:
    """One image series as voxels in patient space.

    Parameters
    ----------
    array : ndarray, shape (z, y, x)
        Voxel values; Hounsfield units for CT (rescale slope and intercept applied).
    spacing : tuple of float, (z, y, x) mm
        Voxel spacing. ``spacing[0]`` is the median distance between consecutive slices along the
        slice normal (nominal when slices are unevenly spaced; see ``slice_positions``).
    origin : tuple of float, LPS mm
        Patient position of voxel ``[0, 0, 0]`` (the centre of the first pixel of the first slice).
    direction : ndarray, shape (3, 3)
        Columns are the LPS unit vectors of increasing x (column), y (row) and z (slice) index.
    slice_positions : ndarray, shape (z, 3), LPS mm, optional
        Position of voxel ``[k, 0, 0]`` for every slice. Defaults to the regular grid implied by
        ``origin``, ``direction`` and ``spacing``.
    sop_instance_uids : tuple of str
        SOPInstanceUID of the image each slice came from (for a multi-frame object the same UID
        repeats; ``frame_numbers`` then tells the frame).
    frame_of_reference_uid, series_uid, study_uid, modality : str or None
        Identifiers copied from the DICOM headers.
    frame_numbers : tuple of int
        1-based frame number within its SOP instance for every slice (1 for single-frame images).
    warnings : tuple of str
        Problems found while loading that did not prevent it (tilt, uneven spacing, missing UIDs).

    Examples
    --------
    >>> import numpy as np
    >>> vol = Volume(np.zeros((3, 4, 5), np.int16), spacing=(2.5, 0.7, 0.8), origin=(10, 20, 30),
    ...              direction=np.eye(3))
    >>> vol.index_to_patient([1, 2, 3]).round(3).tolist()
    [12.4, 21.4, 32.5]
    >>> vol.patient_to_index([12.4, 21.4, 32.5]).round(6).tolist()
    [1.0, 2.0, 3.0]
    """

    array: NDArray[np.generic]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: NDArray[np.float64]
    slice_positions: NDArray[np.float64] = field(default=None)  # type: ignore[arg-type]
    sop_instance_uids: tuple[str, ...] = ()
    frame_numbers: tuple[int, ...] = ()
    frame_of_reference_uid: str | None = None
    series_uid: str | None = None
    study_uid: str | None = None
    modality: str | None = None
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.ndim != 3:
            raise GeometryError(
                f"Volume.array must be 3-D (z, y, x); received shape {arr.shape}. "
                "Stack 2-D slices with np.stack(slices) first."
            )
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in spacing):
            raise GeometryError(
                f"Volume.spacing must be three positive (z, y, x) millimetre values; "
                f"received {self.spacing!r}. A zero slice spacing usually means duplicate "
                "slice positions: load one acquisition at a time."
            )
        origin = tuple(float(o) for o in self.origin)
        if len(origin) != 3 or not all(np.isfinite(origin)):
            raise GeometryError(
                f"Volume.origin must be three finite LPS mm values; got {self.origin!r}"
            )
        direction = np.asarray(self.direction, dtype=np.float64)
        if direction.shape != (3, 3):
            raise GeometryError(f"Volume.direction must be 3x3; received shape {direction.shape}")
        if not np.allclose(np.linalg.norm(direction, axis=0), 1.0, atol=_ORTHO_TOL):
            raise GeometryError(
                "Volume.direction columns must be unit vectors (LPS direction cosines of x, y, z); "
                f"received column norms {np.linalg.norm(direction, axis=0).round(4).tolist()}"
            )
        if abs(float(direction[:, 0] @ direction[:, 1])) > _ORTHO_TOL:
            raise GeometryError(
                "Volume.direction: the row (x) and column (y) directions are not perpendicular; "
                "ImageOrientationPatient is corrupt."
            )
        nz = arr.shape[0]
        if self.slice_positions is None:
            steps = np.arange(nz, dtype=np.float64)[:, None] * spacing[0]
            positions = np.asarray(origin)[None, :] + steps * direction[:, 2][None, :]
        else:
            positions = np.asarray(self.slice_positions, dtype=np.float64)
            if positions.shape != (nz, 3):
                raise GeometryError(
                    f"Volume.slice_positions must have shape ({nz}, 3), one LPS point per slice; "
                    f"received {positions.shape}"
                )
            if not np.allclose(positions[0], origin, atol=1e-4):
                raise GeometryError(
                    "Volume.slice_positions[0] must equal origin (the position of voxel [0, 0, 0]); "
                    f"received {positions[0].tolist()} vs {list(origin)}"
                )
        if nz > 1:
            along = (positions - positions[0]) @ self.normal_of(direction)
            if np.any(np.diff(along) <= 0):
                raise GeometryError(
                    "Volume slices must be strictly ordered along the slice normal with no duplicate "
                    "positions; sort slices by position and drop duplicates before building a Volume."
                )
        n_uids = len(self.sop_instance_uids)
        if n_uids not in (0, nz):
            raise GeometryError(f"Volume.sop_instance_uids has {n_uids} entries for {nz} slices")
        frames = self.frame_numbers or tuple([1] * n_uids)
        positions.setflags(write=False)
        direction.setflags(write=False)
        object.__setattr__(self, "array", arr)
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "slice_positions", positions)
        object.__setattr__(self, "frame_numbers", tuple(int(f) for f in frames))
        object.__setattr__(self, "warnings", tuple(self.warnings))

    # ------------------------------------------------------------------ derived geometry
    @staticmethod
    def normal_of(direction: NDArray[np.float64]) -> NDArray[np.float64]:
        """Unit normal of the image plane (row direction x column direction), LPS."""
        n = np.cross(direction[:, 0], direction[:, 1])
        return np.asarray(n / np.linalg.norm(n), dtype=np.float64)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape ``(z, y, x)``."""
        s = self.array.shape
        return (int(s[0]), int(s[1]), int(s[2]))

    @property
    def normal(self) -> NDArray[np.float64]:
        """Unit normal of the image planes in LPS (cross product of row and column directions)."""
        return self.normal_of(self.direction)

    @property
    def slice_offsets_mm(self) -> NDArray[np.float64]:
        """Distance of every slice plane from the first, along the slice normal (mm)."""
        return np.asarray((self.slice_positions - self.slice_positions[0]) @ self.normal)

    @property
    def is_uniform(self) -> bool:
        """True when slices lie on the regular grid given by origin, direction and spacing[0]."""
        regular = np.asarray(self.origin)[None, :] + (
            np.arange(self.shape[0])[:, None] * self.spacing[0] * self.direction[:, 2][None, :]
        )
        return bool(np.allclose(regular, self.slice_positions, atol=1e-3 * self.spacing[0] + 1e-4))

    @property
    def is_axis_aligned(self) -> bool:
        """True when direction is a signed permutation of the identity (no obliquity)."""
        d = np.abs(self.direction)
        return bool(np.allclose(np.sort(d, axis=0)[-1], 1.0, atol=1e-4))

    @property
    def affine(self) -> NDArray[np.float64]:
        """4x4 matrix mapping homogeneous ``(z, y, x, 1)`` indices to LPS mm on the nominal grid.

        Exact for uniform stacks; for non-uniform ones use :meth:`index_to_patient`.
        """
        a = np.eye(4)
        a[:3, 0] = self.direction[:, 2] * self.spacing[0]
        a[:3, 1] = self.direction[:, 1] * self.spacing[1]
        a[:3, 2] = self.direction[:, 0] * self.spacing[2]
        a[:3, 3] = self.origin
        return a

    # ------------------------------------------------------------------ conversions
    def index_to_patient(self, index_zyx: ArrayLike) -> NDArray[np.float64]:
        """Patient LPS position (mm) of voxel indices ``(z, y, x)``; fractional indices allowed.

        Parameters
        ----------
        index_zyx : array_like, shape (3,) or (n, 3)
            Voxel indices in numpy order. Fractional slice indices interpolate linearly between
            the true positions of the neighbouring slices.

        Returns
        -------
        ndarray, shape (3,) or (n, 3)
            LPS coordinates in mm.
        """
        idx = np.asarray(index_zyx, dtype=np.float64)
        single = idx.ndim == 1
        idx = np.atleast_2d(idx)
        if idx.shape[1] != 3:
            raise GeometryError(f"index_zyx must have 3 components (z, y, x); received {idx.shape}")
        k = idx[:, 0]
        nz = self.shape[0]
        if nz == 1:
            base = self.slice_positions[0][None, :] + (k[:, None] * self.spacing[0]) * self.normal
        else:
            k0 = np.clip(np.floor(k), 0, nz - 2).astype(int)
            frac = (k - k0)[:, None]
            base = self.slice_positions[k0] + frac * (
                self.slice_positions[k0 + 1] - self.slice_positions[k0]
            )
        pos = (
            base
            + (idx[:, 2] * self.spacing[2])[:, None] * self.direction[:, 0]
            + (idx[:, 1] * self.spacing[1])[:, None] * self.direction[:, 1]
        )
        return pos[0] if single else pos

    def patient_to_index(self, lps: ArrayLike) -> NDArray[np.float64]:
        """Fractional voxel indices ``(z, y, x)`` of patient LPS points (mm); inverse of
        :meth:`index_to_patient`.

        Points between slices get a fractional slice index interpolated between the true slice
        positions; points outside the volume get indices outside ``[0, shape)`` (check with
        :meth:`contains_index`).
        """
        p = np.asarray(lps, dtype=np.float64)
        single = p.ndim == 1
        p = np.atleast_2d(p)
        if p.shape[1] != 3:
            raise GeometryError(f"LPS points must have 3 components; received shape {p.shape}")
        n = self.normal
        offsets = self.slice_offsets_mm
        d = (p - self.slice_positions[0]) @ n
        nz = self.shape[0]
        if nz == 1:
            k = d / self.spacing[0]
        else:
            k0 = np.clip(np.searchsorted(offsets, d, side="right") - 1, 0, nz - 2)
            k = k0 + (d - offsets[k0]) / (offsets[k0 + 1] - offsets[k0])
        plane_origin = self.index_to_patient(
            np.column_stack([k, np.zeros_like(k), np.zeros_like(k)])
        )
        rel = p - plane_origin
        x = (rel @ self.direction[:, 0]) / self.spacing[2]
        y = (rel @ self.direction[:, 1]) / self.spacing[1]
        out = np.column_stack([k, y, x])
        return out[0] if single else out

    def contains_index(self, index_zyx: ArrayLike, margin: float = 0.5) -> bool | NDArray[np.bool_]:
        """Whether fractional indices fall inside the volume (within ``margin`` voxels of an edge)."""
        idx = np.asarray(index_zyx, dtype=np.float64)
        shape = np.asarray(self.shape, dtype=np.float64)
        inside = np.all((idx >= -margin) & (idx <= shape - 1 + margin), axis=-1)
        return bool(inside) if inside.ndim == 0 else inside

    def nearest_index(self, lps: ArrayLike) -> tuple[int, int, int]:
        """Nearest voxel ``(z, y, x)`` to a patient point; raises :class:`GeometryError` if outside."""
        idx = self.patient_to_index(np.asarray(lps, dtype=np.float64).reshape(3))
        if not self.contains_index(idx):
            raise GeometryError(
                f"Point {np.round(np.asarray(lps, float), 2).tolist()} (LPS mm) lies outside the "
                f"volume (fractional index z, y, x = {np.round(idx, 2).tolist()}, shape "
                f"{list(self.shape)}); pick a point on the image."
            )
        rounded = np.clip(np.rint(idx).astype(int), 0, np.asarray(self.shape) - 1)
        return (int(rounded[0]), int(rounded[1]), int(rounded[2]))

    def __repr__(self) -> str:
        return (
            f"Volume(shape={self.shape}, spacing_mm={tuple(round(s, 4) for s in self.spacing)}, "
            f"origin_lps_mm={tuple(round(o, 3) for o in self.origin)}, dtype={self.array.dtype}, "
            f"modality={self.modality!r}, uniform={self.is_uniform}, warnings={len(self.warnings)})"
        )
