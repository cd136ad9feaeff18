"""The one adapter between napari coordinates and readerstation's Volume geometry.

Nothing else in the plugin converts coordinates; pixel (data) coordinates never leave this module.

Convention
----------
napari slices a layer along its *data* axes, so napari world axes must follow the array axes
``(z, y, x)`` = (slice, row, column); a layer affine that mixes a displayed axis with the sliced
axis cannot be shown in 2-D. Each world axis is therefore the **signed patient (LPS) component
that its array axis mostly runs along**, in millimetres:

* an axis running mostly left-right is world coordinate ``+L`` (LPS x),
* an axis running mostly anterior-posterior is ``+P`` (LPS y),
* an axis running mostly inferior-superior is ``+S`` (LPS z) when it is the slice axis and ``I``
  (``-S``) when it is displayed, so that head is up on coronal and sagittal images.

For the usual axial CT (ImageOrientationPatient ``[1, 0, 0, 0, 1, 0]``) the world axes are
``(S, P, L)``: world = LPS reversed, anterior at the top and the patient's left on the image
right (radiological convention). A sagittal stack ``[0, 1, 0, 0, 0, -1]`` gets ``(L, I, P)``
(head up, face to the left) and a coronal one ``(P, I, L)``.

The layer affine (data -> world) carries the direction cosines **within** the image plane (an
oblique axial is shown rotated) but not the coupling between the slice axis and the image plane:
each slice is shown as a flat plane at its nominal position (slice index x nominal spacing). For
uniform stacks whose planes are orthogonal to an anatomical axis the display is exact (world =
signed LPS); for gantry-tilted, out-of-plane oblique or unevenly spaced stacks it is a display
approximation only. Conversions to patient coordinates therefore always go
world -> data index (through the display affine) -> :meth:`Volume.index_to_patient`, which knows
each slice's true position.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from readerstation.errors import GeometryError
from readerstation.geometry import Volume

__all__ = [
    "LAYER_METADATA_KEY",
    "LayerGeometry",
    "VolumeView",
    "WorldAxis",
    "derive_layer_geometry",
    "from_layer",
    "volume_from_geometry",
]

#: Key of the :class:`VolumeView` (and the series record) in ``layer.metadata``.
LAYER_METADATA_KEY = "readerstation"

_LPS_NAMES = (("L", "R"), ("P", "A"), ("S", "I"))  # (positive, negative) name per LPS component


@dataclass(frozen=True)
class WorldAxis:
    """One napari world axis: a signed patient LPS component.

    Parameters
    ----------
    component : int
        0 = LPS x (left), 1 = LPS y (posterior), 2 = LPS z (superior).
    sign : int
        +1 when the world coordinate increases towards L / P / S, -1 towards R / A / I.
    """

    component: int
    sign: int

    def __post_init__(self) -> None:
        if self.component not in (0, 1, 2):
            raise GeometryError(
                f"WorldAxis.component must be 0, 1 or 2 (LPS); got {self.component}"
            )
        if self.sign not in (1, -1):
            raise GeometryError(f"WorldAxis.sign must be +1 or -1; got {self.sign}")

    @property
    def label(self) -> str:
        """Patient direction towards which the coordinate increases ("L", "A", "I", ...)."""
        positive, negative = _LPS_NAMES[self.component]
        return positive if self.sign > 0 else negative

    @property
    def opposite_label(self) -> str:
        """Patient direction towards which the coordinate decreases."""
        positive, negative = _LPS_NAMES[self.component]
        return negative if self.sign > 0 else positive


@dataclass(frozen=True, eq=False)
class LayerGeometry:
    """Placement of one volume in napari world coordinates (mm).

    Parameters
    ----------
    world_axes : tuple of WorldAxis, world axis order (= array axis order z, y, x)
        Signed LPS component of every world axis.
    affine : ndarray, shape (4, 4)
        Homogeneous map from napari data coordinates (array indices ``(z, y, x)``, pixel centres
        at integers) to world millimetres; pass it as ``affine=`` to ``add_image``.
    exact : bool
        True when world coordinates equal the signed LPS components exactly for every voxel
        (uniform stack, image planes orthogonal to the slice axis's anatomical axis).
    """

    world_axes: tuple[WorldAxis, WorldAxis, WorldAxis]
    affine: NDArray[np.float64]
    exact: bool

    def __post_init__(self) -> None:
        affine = np.asarray(self.affine, dtype=np.float64)
        if affine.shape != (4, 4) or not np.allclose(affine[3], [0, 0, 0, 1]):
            raise GeometryError(
                f"LayerGeometry.affine must be a 4x4 homogeneous matrix; got {affine}"
            )
        if abs(np.linalg.det(affine[:3, :3])) < 1e-9:
            raise GeometryError("LayerGeometry.affine is singular; spacing must be non-zero.")
        if sorted(a.component for a in self.world_axes) != [0, 1, 2]:
            raise GeometryError(
                f"LayerGeometry.world_axes must use each LPS component once; got {self.world_axes}"
            )
        affine.setflags(write=False)
        object.__setattr__(self, "affine", affine)

    @property
    def axis_labels(self) -> tuple[str, str, str]:
        """napari axis labels: the patient direction towards which each world axis increases."""
        a, b, c = (axis.label for axis in self.world_axes)
        return (a, b, c)

    @property
    def world_from_lps(self) -> NDArray[np.float64]:
        """3x3 signed permutation ``Q`` with ``world = Q @ lps`` (exact only when ``exact``)."""
        q = np.zeros((3, 3))
        for i, axis in enumerate(self.world_axes):
            q[i, axis.component] = axis.sign
        return q

    def data_to_world(self, data_zyx: ArrayLike) -> NDArray[np.float64]:
        """World mm of napari data coordinates (array indices ``(z, y, x)``); (3,) or (n, 3)."""
        d = np.asarray(data_zyx, dtype=np.float64)
        out = d @ self.affine[:3, :3].T + self.affine[:3, 3]
        return np.asarray(out)

    def world_to_data(self, world: ArrayLike) -> NDArray[np.float64]:
        """Fractional array indices ``(z, y, x)`` of world points (mm), shape (3,) or (n, 3)."""
        w = np.asarray(world, dtype=np.float64)
        inv = np.linalg.inv(self.affine[:3, :3])
        return np.asarray((w - self.affine[:3, 3]) @ inv.T)


def _choose_world_axes(direction: NDArray[np.float64]) -> tuple[WorldAxis, WorldAxis, WorldAxis]:
    """Signed LPS component for every array axis (z, y, x), the best-aligned permutation."""
    # Array axis a (0 = z, 1 = y, 2 = x) runs along direction column (2 - a).
    cols = [direction[:, 2], direction[:, 1], direction[:, 0]]
    best = max(
        itertools.permutations(range(3)),
        key=lambda perm: sum(abs(cols[a][perm[a]]) for a in range(3)),
    )
    axes = []
    for a, comp in enumerate(best):
        sign = -1 if (comp == 2 and a != 0) else 1  # S displayed -> "I" so that head is up
        axes.append(WorldAxis(component=comp, sign=sign))
    return (axes[0], axes[1], axes[2])


def derive_layer_geometry(volume: Volume) -> LayerGeometry:
    """Choose the world axes of ``volume`` and the data -> world affine napari displays it with.

    Parameters
    ----------
    volume : Volume
        Geometry source (the voxels are not read).

    Returns
    -------
    LayerGeometry
        See the module docstring for the convention.
    """
    axes = _choose_world_axes(volume.direction)
    geometry_q = np.zeros((3, 3))
    for i, axis in enumerate(axes):
        geometry_q[i, axis.component] = axis.sign
    nominal = geometry_q @ volume.affine[:3, :3]  # world per data step on the nominal grid
    display = np.zeros((3, 3))
    # Slice axis: one slice step = the nominal slice spacing along world axis 0.
    display[0, 0] = (
        np.sign(nominal[0, 0]) * volume.spacing[0] if nominal[0, 0] else volume.spacing[0]
    )
    # Image plane: the closest rotation/reflection to the projected direction cosines (polar
    # decomposition), times the pixel spacing, so that in-plane distances stay true.
    plane = geometry_q[1:, :] @ volume.direction[:, [1, 0]]  # world (1, 2) per unit step in (y, x)
    u, _, vt = np.linalg.svd(plane)
    display[1:, 1:] = (u @ vt) @ np.diag([volume.spacing[1], volume.spacing[2]])
    affine = np.eye(4)
    affine[:3, :3] = display
    affine[:3, 3] = geometry_q @ np.asarray(volume.origin)
    exact = bool(volume.is_uniform and np.allclose(display, nominal, atol=1e-6))
    return LayerGeometry(world_axes=axes, affine=affine, exact=exact)


def volume_from_geometry(
    array: NDArray[np.generic],
    *,
    spacing: tuple[float, float, float],
    origin: tuple[float, float, float],
    direction: ArrayLike,
    slice_positions: ArrayLike | None = None,
) -> Volume:
    """A :class:`Volume` over ``array`` (e.g. a buffer still being filled) with this geometry."""
    positions: Any = None if slice_positions is None else np.asarray(slice_positions, float)
    return Volume(
        array=array,
        spacing=spacing,
        origin=origin,
        direction=np.asarray(direction, dtype=np.float64),
        slice_positions=positions,
    )


@dataclass(frozen=True, eq=False)
class VolumeView:
    """A volume as shown in napari: converts between napari and patient coordinates.

    Parameters
    ----------
    volume : Volume
        The series' voxels and true geometry.
    geometry : LayerGeometry
        How the layer is placed in napari world coordinates.

    Examples
    --------
    >>> import numpy as np
    >>> vol = Volume(np.zeros((3, 4, 5), np.int16), spacing=(2.5, 0.7, 0.8),
    ...              origin=(10, 20, 30), direction=np.eye(3))
    >>> view = VolumeView.of(vol)
    >>> view.geometry.axis_labels
    ('S', 'P', 'L')
    >>> view.world_to_patient([32.5, 21.4, 12.4]).round(3).tolist()
    [12.4, 21.4, 32.5]
    """

    volume: Volume
    geometry: LayerGeometry

    @classmethod
    def of(cls, volume: Volume) -> VolumeView:
        """Build the view of ``volume`` with :func:`derive_layer_geometry`."""
        return cls(volume=volume, geometry=derive_layer_geometry(volume))

    # data (array index) <-> patient
    def data_to_patient(self, data_zyx: ArrayLike) -> NDArray[np.float64]:
        """LPS mm of napari data coordinates (array indices ``(z, y, x)``)."""
        return self.volume.index_to_patient(data_zyx)

    def patient_to_data(self, lps: ArrayLike) -> NDArray[np.float64]:
        """Fractional array indices ``(z, y, x)`` of LPS points (mm)."""
        return self.volume.patient_to_index(lps)

    # world <-> patient (always through the data index: exact for non-uniform stacks)
    def world_to_patient(self, world: ArrayLike) -> NDArray[np.float64]:
        """LPS mm of napari world points (mm in this layer's world axes)."""
        return self.volume.index_to_patient(self.geometry.world_to_data(world))

    def patient_to_world(self, lps: ArrayLike) -> NDArray[np.float64]:
        """napari world coordinates (mm) at which the LPS points are displayed."""
        return self.geometry.data_to_world(self.volume.patient_to_index(lps))

    def middle_slice_world(self) -> float:
        """World coordinate (axis 0) of the middle slice (index ``(n - 1) // 2``, as napari)."""
        mid = (self.volume.shape[0] - 1) // 2
        return float(self.geometry.data_to_world([mid, 0, 0])[0])

    def layer_kwargs(self) -> dict[str, Any]:
        """Placement keyword arguments for ``viewer.add_image`` / a napari LayerDataTuple."""
        return {
            "affine": np.array(self.geometry.affine),
            "axis_labels": self.geometry.axis_labels,
            "units": ("mm", "mm", "mm"),
        }

    def __repr__(self) -> str:
        return (
            f"VolumeView(shape={self.volume.shape}, world_axes={self.geometry.axis_labels}, "
            f"exact={self.geometry.exact})"
        )


def from_layer(layer: Any) -> VolumeView:
    """The :class:`VolumeView` stored in a readerstation image layer's metadata.

    Raises
    ------
    GeometryError
        When the layer was not created by readerstation.
    """
    record = getattr(layer, "metadata", {}).get(LAYER_METADATA_KEY)
    view = getattr(record, "view", None)
    if not isinstance(view, VolumeView):
        raise GeometryError(
            f"Layer {getattr(layer, 'name', layer)!r} carries no readerstation geometry; "
            "open the series with the readerstation reader or the Reading dock."
        )
    return view
