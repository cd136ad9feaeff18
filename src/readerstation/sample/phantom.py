"""A numpy abdominal CT phantom rendered one axial slice at a time.

The anatomy is a label map built from ellipses, ellipsoids and capsules in patient LPS mm (body
outline, subcutaneous fat, muscle wall, liver, portal and hepatic veins, IVC, aorta, spleen,
stomach with an air-fluid level, kidneys, spine with canal and posterior elements, ribs).
Attenuation per label and contrast phase comes from :class:`PhaseAttenuation`. Lesions are painted
over the liver from their :class:`~readerstation.sample.design.LesionState`. A small in-plane
binomial blur gives partial-volume edges, then correlated Gaussian noise is added inside the body.

All functions are pure; randomness comes only from the ``seed`` arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from readerstation.errors import SampleDataError
from readerstation.sample.design import ContrastPhase, LesionState

__all__ = [
    "Label",
    "PhaseAttenuation",
    "SliceGrid",
    "compute_hu_slice",
    "compute_label_slice",
]


class Label(IntEnum):
    """Tissue labels of the phantom."""

    AIR = 0
    FAT = 1
    MUSCLE = 2
    VISCERAL_FAT = 3
    LIVER = 4
    SPLEEN = 5
    KIDNEY = 6
    AORTA = 7
    IVC = 8
    PORTAL_VEIN = 9
    HEPATIC_VEIN = 10
    BONE_CORTEX = 11
    BONE_MARROW = 12
    CSF = 13
    STOMACH_FLUID = 14
    GAS = 15
    BOWEL = 16


#: HU per label for (non-contrast, arterial, portal venous).
_DEFAULT_HU: dict[Label, tuple[float, float, float]] = {
    Label.AIR: (-1000, -1000, -1000),
    Label.FAT: (-100, -100, -100),
    Label.MUSCLE: (50, 55, 60),
    Label.VISCERAL_FAT: (-90, -90, -90),
    Label.LIVER: (55, 80, 110),
    Label.SPLEEN: (48, 130, 120),
    Label.KIDNEY: (32, 180, 170),
    Label.AORTA: (40, 300, 160),
    Label.IVC: (40, 70, 140),
    Label.PORTAL_VEIN: (40, 130, 180),
    Label.HEPATIC_VEIN: (40, 60, 140),
    Label.BONE_CORTEX: (900, 900, 900),
    Label.BONE_MARROW: (420, 420, 420),
    Label.CSF: (15, 15, 15),
    Label.STOMACH_FLUID: (10, 10, 10),
    Label.GAS: (-1000, -1000, -1000),
    Label.BOWEL: (35, 90, 100),
}

_PHASE_INDEX = {
    ContrastPhase.NON_CONTRAST: 0,
    ContrastPhase.ARTERIAL: 1,
    ContrastPhase.PORTAL_VENOUS: 2,
}


@dataclass(frozen=True)
class PhaseAttenuation:
    """Attenuation (HU) of every tissue per contrast phase, and of the lesion compartments.

    Parameters
    ----------
    tissue_hu : dict
        ``Label -> (non-contrast, arterial, portal venous)`` HU.
    viable_hu : tuple of float
        Viable HCC: hypo on non-contrast, hyper-enhancing in the arterial phase (liver + 70 HU),
        washed out (below liver) in the portal venous phase.
    necrosis_hu : tuple of float
        Necrosis: 20..30 HU, no enhancement.
    noise_sd_hu : float
        Standard deviation of the (spatially correlated) image noise inside the body, HU.
    """

    tissue_hu: dict[Label, tuple[float, float, float]] = field(
        default_factory=lambda: dict(_DEFAULT_HU)
    )
    viable_hu: tuple[float, float, float] = (40.0, 150.0, 90.0)
    necrosis_hu: tuple[float, float, float] = (25.0, 27.0, 30.0)
    noise_sd_hu: float = 3.0

    def __post_init__(self) -> None:
        missing = [lab.name for lab in Label if lab not in self.tissue_hu]
        if missing:
            raise SampleDataError(f"PhaseAttenuation.tissue_hu lacks labels {missing}.")
        if not 0 <= self.noise_sd_hu <= 50:
            raise SampleDataError(f"noise_sd_hu must be 0..50 HU; received {self.noise_sd_hu}.")

    def lut(self, phase: ContrastPhase) -> NDArray[np.float32]:
        """Label -> HU lookup table for one phase."""
        i = _PHASE_INDEX[phase]
        out = np.zeros(len(Label), dtype=np.float32)
        for lab, hu in self.tissue_hu.items():
            out[int(lab)] = hu[i]
        return out


@dataclass(frozen=True)
class SliceGrid:
    """An axial sampling grid in patient space (identity orientation, slices head to feet).

    Parameters
    ----------
    rows, columns : int
        Matrix size.
    pixel_spacing_mm : float
        In-plane spacing (rows and columns), mm.
    slice_thickness_mm : float
        Slice thickness = slice spacing, mm.
    z_top_mm, n_slices : float, int
        z (LPS, superior positive) of the first slice and number of slices; slice ``k`` is at
        ``z_top_mm - k * slice_thickness_mm``.
    centre_xy_mm : tuple of float
        LPS (x, y) of the image centre.
    """

    rows: int = 256
    columns: int = 256
    pixel_spacing_mm: float = 1.5
    slice_thickness_mm: float = 2.5
    z_top_mm: float = 100.0
    n_slices: int = 61
    centre_xy_mm: tuple[float, float] = (0.0, 10.0)

    def __post_init__(self) -> None:
        if self.rows < 16 or self.columns < 16 or self.n_slices < 1:
            raise SampleDataError(
                f"SliceGrid needs rows, columns >= 16 and n_slices >= 1; received "
                f"{self.rows}x{self.columns}x{self.n_slices}."
            )
        if self.pixel_spacing_mm <= 0 or self.slice_thickness_mm <= 0:
            raise SampleDataError("SliceGrid spacings must be positive millimetres.")

    @property
    def origin_xy_mm(self) -> tuple[float, float]:
        """LPS (x, y) of the centre of pixel [0, 0]."""
        return (
            self.centre_xy_mm[0] - (self.columns - 1) / 2 * self.pixel_spacing_mm,
            self.centre_xy_mm[1] - (self.rows - 1) / 2 * self.pixel_spacing_mm,
        )

    def slice_z(self, k: int) -> float:
        """z (mm) of slice ``k``."""
        return self.z_top_mm - k * self.slice_thickness_mm

    @property
    def z_values(self) -> NDArray[np.float64]:
        """z (mm) of every slice, first (superior) to last."""
        z = self.z_top_mm - np.arange(self.n_slices) * self.slice_thickness_mm
        return np.asarray(z, dtype=np.float64)

    def slice_index_of(self, z_mm: float) -> int:
        """Index of the slice at ``z_mm``; raises when no slice lies there."""
        k = (self.z_top_mm - z_mm) / self.slice_thickness_mm
        if abs(k - round(k)) > 1e-6 or not 0 <= round(k) < self.n_slices:
            raise SampleDataError(
                f"No slice of the grid lies at z={z_mm} mm (grid: {self.z_top_mm} mm down in "
                f"{self.slice_thickness_mm} mm steps, {self.n_slices} slices)."
            )
        return round(k)

    def xy(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """LPS x (columns) and y (rows) of every pixel, each shape (rows, columns)."""
        ox, oy = self.origin_xy_mm
        x = ox + np.arange(self.columns) * self.pixel_spacing_mm
        y = oy + np.arange(self.rows) * self.pixel_spacing_mm
        return np.meshgrid(x, y)


# Vessel segments (LPS mm): start, end, radius.
_PORTAL = (
    ((-5.0, 15.0, -30.0), (-35.0, 10.0, 15.0), 8.0),
    ((-35.0, 10.0, 15.0), (-90.0, 20.0, 25.0), 6.0),
    ((-35.0, 10.0, 15.0), (10.0, -30.0, 35.0), 5.0),
    ((-90.0, 20.0, 25.0), (-115.0, 45.0, 5.0), 4.0),
)
_HEPATIC = (
    ((-25.0, 25.0, 85.0), (-100.0, 0.0, 70.0), 4.5),
    ((-25.0, 25.0, 85.0), (-45.0, -45.0, 80.0), 4.0),
    ((-25.0, 25.0, 85.0), (15.0, -40.0, 85.0), 3.5),
)


class _Painter:
    """Paints shapes into a label slice, evaluating each only inside its bounding box."""

    def __init__(self, grid: SliceGrid) -> None:
        ox, oy = grid.origin_xy_mm
        self.ps = grid.pixel_spacing_mm
        self.ox, self.oy = ox, oy
        self.x = ox + np.arange(grid.columns) * self.ps
        self.y = oy + np.arange(grid.rows) * self.ps
        self.lab = np.full((grid.rows, grid.columns), Label.AIR, dtype=np.uint8)

    def box(self, x0: float, x1: float, y0: float, y1: float) -> tuple[slice, slice] | None:
        c0 = max(0, math.floor((x0 - self.ox) / self.ps))
        c1 = min(len(self.x), math.ceil((x1 - self.ox) / self.ps) + 1)
        r0 = max(0, math.floor((y0 - self.oy) / self.ps))
        r1 = min(len(self.y), math.ceil((y1 - self.oy) / self.ps) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        return (slice(r0, r1), slice(c0, c1))

    def ellipse(
        self, cx: float, cy: float, a: float, b: float
    ) -> tuple[tuple[slice, slice], NDArray[np.bool_]] | None:
        sl = self.box(cx - a, cx + a, cy - b, cy + b)
        if sl is None:
            return None
        xs = self.x[sl[1]][None, :]
        ys = self.y[sl[0]][:, None]
        return sl, np.asarray(((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2 <= 1.0)

    def ellipsoid(
        self, z: float, c: Sequence[float], s: Sequence[float]
    ) -> tuple[tuple[slice, slice], NDArray[np.bool_]] | None:
        dz = (z - c[2]) / s[2]
        if abs(dz) >= 1.0:
            return None
        f = math.sqrt(1.0 - dz * dz)
        return self.ellipse(c[0], c[1], s[0] * f, s[1] * f)

    def capsule(
        self, z: float, p0: Sequence[float], p1: Sequence[float], r: float
    ) -> tuple[tuple[slice, slice], NDArray[np.bool_]] | None:
        a = np.asarray(p0, float)
        d = np.asarray(p1, float) - a
        if z < min(a[2], a[2] + d[2]) - r or z > max(a[2], a[2] + d[2]) + r:
            return None
        sl = self.box(min(a[0], a[0] + d[0]) - r, max(a[0], a[0] + d[0]) + r,
                      min(a[1], a[1] + d[1]) - r, max(a[1], a[1] + d[1]) + r)  # fmt: skip
        if sl is None:
            return None
        xs = self.x[sl[1]][None, :]
        ys = self.y[sl[0]][:, None]
        t = np.clip(((xs - a[0]) * d[0] + (ys - a[1]) * d[1] + (z - a[2]) * d[2]) / float(d @ d),
                    0.0, 1.0)  # fmt: skip
        dist2 = (
            (a[0] + t * d[0] - xs) ** 2 + (a[1] + t * d[1] - ys) ** 2 + (a[2] + t * d[2] - z) ** 2
        )
        return sl, np.asarray(dist2 <= r * r)

    def paint(
        self,
        shape: tuple[tuple[slice, slice], NDArray[np.bool_]] | None,
        value: Label,
        within: NDArray[np.bool_] | None = None,
    ) -> None:
        if shape is None:
            return
        sl, m = shape
        if within is not None:
            m = m & within[sl]
        self.lab[sl][m] = value

    def full(
        self, shape: tuple[tuple[slice, slice], NDArray[np.bool_]] | None
    ) -> NDArray[np.bool_]:
        out = np.zeros(self.lab.shape, dtype=bool)
        if shape is not None:
            out[shape[0]] = shape[1]
        return out


def compute_label_slice(
    grid: SliceGrid, z_mm: float, *, body_scale: float = 1.0
) -> NDArray[np.uint8]:
    """Tissue labels of one axial slice of the phantom.

    Parameters
    ----------
    grid : SliceGrid
        In-plane sampling.
    z_mm : float
        LPS z of the slice (mm, superior positive).
    body_scale : float
        Scales the body outline (subcutaneous fat thickness varies between subjects).

    Returns
    -------
    ndarray of uint8, shape (rows, columns)
        :class:`Label` values.
    """
    p = _Painter(grid)
    z = z_mm
    ba, bb = 165.0 * body_scale, 120.0 * body_scale
    p.paint(p.ellipse(0, 5, ba, bb), Label.FAT)
    p.paint(p.ellipse(0, 5, 150, 108), Label.MUSCLE)
    cav = p.ellipse(0, 3, 140, 99)
    cavity = p.full(cav)
    p.paint(cav, Label.VISCERAL_FAT)
    # ribs: bony dots in the body wall, present on some slices (oblique ribs), upper abdomen
    if z > -40:
        for ang in range(-150, 181, 22):
            t = math.radians(ang + 0.4 * z)
            if ((z + 3 * ang) % 30.0) > 12.0 or (abs(math.sin(t)) < 0.2 and math.cos(t) < 0):
                continue
            rx, ry = 0 + 145 * math.cos(t), 3 + 104 * math.sin(t)
            if ry > 95 or ry < -80:
                continue
            p.paint(p.ellipse(rx, ry, 6, 4), Label.BONE_CORTEX)
            p.paint(p.ellipse(rx, ry, 3.5, 2), Label.BONE_MARROW)
    # paraspinal muscles
    for sx in (-38.0, 38.0):
        p.paint(p.ellipse(sx, 88, 28, 20), Label.MUSCLE)
    # stomach (air-fluid level anteriorly), under the liver's left lobe
    st = p.ellipsoid(z, (78.0, -10.0, 50.0), (36.0, 32.0, 36.0))
    p.paint(st, Label.STOMACH_FLUID, cavity)
    if st is not None:
        p.paint((st[0], st[1] & (p.y[st[0][0]][:, None] < -28.0)), Label.GAS, cavity)
    # liver: right lobe + left lobe, inside the cavity
    liver = p.full(p.ellipsoid(z, (-60.0, 5.0, 30.0), (92.0, 85.0, 72.0)))
    liver |= p.full(p.ellipsoid(z, (25.0, -40.0, 55.0), (70.0, 42.0, 42.0)))
    liver &= cavity
    p.lab[liver] = Label.LIVER
    for p0, p1, r in _PORTAL:
        p.paint(p.capsule(z, p0, p1, r), Label.PORTAL_VEIN, cavity)
    for p0, p1, r in _HEPATIC:
        p.paint(p.capsule(z, p0, p1, r), Label.HEPATIC_VEIN, liver)
    # spleen, kidneys, bowel
    p.paint(p.ellipsoid(z, (98.0, 55.0, 45.0), (32.0, 48.0, 55.0)), Label.SPLEEN, cavity)
    for kx in (-72.0, 72.0):
        kz = -50.0 if kx < 0 else -40.0
        p.paint(p.ellipsoid(z, (kx, 62.0, kz), (27.0, 30.0, 48.0)), Label.KIDNEY)
    if z < -20:
        for bx, by in ((30.0, -60.0), (-30.0, -70.0), (70.0, -20.0)):
            p.paint(p.ellipse(bx, by, 16, 14), Label.BOWEL)
            p.paint(p.ellipse(bx, by - 5, 7, 5), Label.GAS)
    # great vessels
    p.paint(p.ellipse(22, 32, 11, 11), Label.AORTA)
    p.paint(p.ellipse(-25, 28, 13, 10), Label.IVC)
    # spine: vertebral body, canal, posterior elements
    p.paint(p.ellipse(0, 58, 19, 17), Label.BONE_CORTEX)
    p.paint(p.ellipse(0, 58, 16.5, 14.5), Label.BONE_MARROW)
    p.paint(p.ellipse(0, 90, 15, 13), Label.BONE_CORTEX)
    p.paint(p.ellipse(0, 108, 5, 14), Label.BONE_CORTEX)
    p.paint(p.ellipse(0, 86, 9, 8), Label.CSF)
    return p.lab


def _blur(img: NDArray[np.float32]) -> NDArray[np.float32]:
    """In-plane [1, 2, 1] / 4 binomial blur along rows and columns (edges replicated)."""
    p = np.pad(img, 1, mode="edge")
    r = (p[:-2, :] + 2 * p[1:-1, :] + p[2:, :]) * 0.25
    out = (r[:, :-2] + 2 * r[:, 1:-1] + r[:, 2:]) * 0.25
    return np.asarray(out, dtype=np.float32)


def compute_hu_slice(
    grid: SliceGrid,
    z_mm: float,
    phase: ContrastPhase,
    lesions: Sequence[LesionState],
    *,
    labels: NDArray[np.uint8] | None = None,
    attenuation: PhaseAttenuation | None = None,
    seed: int | Sequence[int] = 0,
    body_scale: float = 1.0,
) -> NDArray[np.int16]:
    """One axial CT slice in Hounsfield units.

    Parameters
    ----------
    grid : SliceGrid
        In-plane sampling.
    z_mm : float
        LPS z of the slice, mm.
    phase : ContrastPhase
        Contrast phase (sets organ and lesion attenuation).
    lesions : sequence of LesionState
        Lesions to paint (inside the liver or not: they are painted where they are).
    labels : ndarray of uint8, shape (rows, columns), optional
        Precomputed :func:`compute_label_slice` output (anatomy does not change between phases).
    attenuation : PhaseAttenuation, optional
        HU table; defaults to :class:`PhaseAttenuation()`.
    seed : int or sequence of int
        Seed of this slice's noise (use e.g. ``(subject_seed, timepoint, phase, slice)``).
    body_scale : float
        Passed to :func:`compute_label_slice` when ``labels`` is not given.

    Returns
    -------
    ndarray of int16, shape (rows, columns)
        HU, clipped to [-1024, 3071].
    """
    att = attenuation or PhaseAttenuation()
    if labels is None:
        labels = compute_label_slice(grid, z_mm, body_scale=body_scale)
    pi = _PHASE_INDEX[phase]
    img = att.lut(phase)[labels]
    if lesions:
        x, y = grid.xy()
        ox, oy = grid.origin_xy_mm
        ps = grid.pixel_spacing_mm
        for st in lesions:
            o = st.outline
            if abs(z_mm - o.centre[2]) >= o.semi_axes[2]:
                continue
            # bounding box of the lesion in pixels (a is the largest in-plane semi-axis)
            r = o.semi_axes[0] + 2 * ps
            c0 = max(0, int((o.centre[0] - r - ox) / ps))
            c1 = min(grid.columns, int((o.centre[0] + r - ox) / ps) + 2)
            r0 = max(0, int((o.centre[1] - r - oy) / ps))
            r1 = min(grid.rows, int((o.centre[1] + r - oy) / ps) + 2)
            if c0 >= c1 or r0 >= r1:
                continue
            xs, ys, sub = x[r0:r1, c0:c1], y[r0:r1, c0:c1], img[r0:r1, c0:c1]
            inside = o.normalised_radius(xs, ys, z_mm) <= 1.0
            if st.fully_viable:
                sub[inside] = att.viable_hu[pi]
                continue
            sub[inside] = att.necrosis_hu[pi]
            if st.lipiodol is not None:
                sub[st.lipiodol.normalised_radius(xs, ys, z_mm) <= 1.0] = st.lipiodol_hu
            if st.viable is not None:
                sub[st.viable.normalised_radius(xs, ys, z_mm) <= 1.0] = att.viable_hu[pi]
    img = _blur(img)
    if att.noise_sd_hu > 0:
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal(img.shape, dtype=np.float32)
        noise = _blur(noise) * np.float32(att.noise_sd_hu / 0.375)
        body = labels != Label.AIR
        img = np.where(body, img + noise, img)
    return np.clip(np.rint(img), -1024, 3071).astype(np.int16)
