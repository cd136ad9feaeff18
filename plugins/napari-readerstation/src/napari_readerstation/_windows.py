"""Display windows (width / level in Hounsfield units) as explicit parameter objects.

No Qt and no napari here: the controller holds the current :class:`WindowPreset`, the viewer
binding turns it into ``contrast_limits``, the dock shows one button per preset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from readerstation.errors import ReaderstationError

__all__ = [
    "DRAG_HU_PER_PIXEL",
    "STANDARD_WINDOWS",
    "WindowPreset",
    "compute_display_limits",
    "derive_window_from_drag",
    "find_window",
]


@dataclass(frozen=True)
class WindowPreset:
    """A CT display window.

    Parameters
    ----------
    name : str
        Short name shown on the button ("Liver").
    width : float, HU
        Window width (> 0).
    level : float, HU
        Window centre.
    shortcut : str
        Keyboard shortcut in Qt notation ("Alt+1"); empty for none.

    Examples
    --------
    >>> WindowPreset("Liver", width=150, level=90).contrast_limits
    (15.0, 165.0)
    """

    name: str
    width: float
    level: float
    shortcut: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ReaderstationError("WindowPreset.name must not be empty; give the window a name.")
        if not (math.isfinite(self.width) and self.width > 0):
            raise ReaderstationError(
                f"WindowPreset {self.name!r}: width must be a positive number of HU; "
                f"received {self.width!r}."
            )
        if not math.isfinite(self.level):
            raise ReaderstationError(
                f"WindowPreset {self.name!r}: level must be a finite HU value; "
                f"received {self.level!r}."
            )

    @property
    def contrast_limits(self) -> tuple[float, float]:
        """``(level - width / 2, level + width / 2)`` in HU, as napari ``contrast_limits``."""
        return (float(self.level - self.width / 2), float(self.level + self.width / 2))

    def __str__(self) -> str:
        return f"{self.name} W{self.width:g}/L{self.level:g}"


# Standard CT windows (W/L in HU). Liver: the narrow soft-tissue window used for arterial-phase
# hepatocellular carcinoma reading (W150/L90 is a common liver preset); the others are the usual
# abdomen, lung and bone presets.
STANDARD_WINDOWS: tuple[WindowPreset, ...] = (
    WindowPreset("Liver", width=150, level=90, shortcut="Alt+1"),
    WindowPreset("Abdomen", width=400, level=50, shortcut="Alt+2"),
    WindowPreset("Lung", width=1500, level=-600, shortcut="Alt+3"),
    WindowPreset("Bone", width=1800, level=400, shortcut="Alt+4"),
)


def find_window(
    name: str | WindowPreset, presets: tuple[WindowPreset, ...] = STANDARD_WINDOWS
) -> WindowPreset:
    """Return the preset called ``name`` (case-insensitive); a preset passes through unchanged."""
    if isinstance(name, WindowPreset):
        return name
    for preset in presets:
        if preset.name.lower() == str(name).strip().lower():
            return preset
    raise ReaderstationError(
        f"Unknown window preset {name!r}; expected one of "
        f"{[p.name for p in presets]}, or pass a WindowPreset(name, width, level)."
    )


def compute_display_limits(
    array: Any,
    modality: str | None,
    window: WindowPreset,
    *,
    percentiles: tuple[float, float] = (0.5, 99.5),
) -> tuple[float, float]:
    """napari ``contrast_limits`` for a series: the HU window for CT, else robust data limits.

    MR (and other non-CT) intensities have no absolute scale, so an HU window would saturate
    them; they get the ``percentiles`` of the voxel values (on a subsample) instead.
    """
    if (modality or "").upper() == "CT":
        return window.contrast_limits
    data = np.asarray(array)
    sample = data[:: max(1, data.shape[0] // 16)].ravel() if data.ndim else data.ravel()
    if sample.size == 0:
        return window.contrast_limits
    lo, hi = (float(v) for v in np.percentile(sample, percentiles))
    if not hi > lo:
        hi = lo + 1.0
    return (lo, hi)


#: Window change per screen pixel of a right-mouse drag, HU.
DRAG_HU_PER_PIXEL = 2.0
_MIN_WIDTH_HU = 1.0


def derive_window_from_drag(
    start: WindowPreset, dx_px: float, dy_px: float, *, hu_per_pixel: float = DRAG_HU_PER_PIXEL
) -> WindowPreset:
    """The window after a right-mouse drag, as radiologists expect on a PACS.

    Dragging right widens the window (less contrast), left narrows it; dragging down raises the
    level (the image gets darker), up lowers it. The width never goes below 1 HU.

    Parameters
    ----------
    start : WindowPreset
        The window when the drag started.
    dx_px, dy_px : float, screen pixels
        Drag displacement, x to the right and y downwards (Qt's screen axes).
    hu_per_pixel : float, HU
        Change of width and level per pixel.

    Examples
    --------
    >>> w = derive_window_from_drag(WindowPreset("Liver", 150, 90), 25, -10)
    >>> (w.width, w.level, w.name)
    (200.0, 70.0, 'Custom')
    """
    width = max(_MIN_WIDTH_HU, float(start.width) + hu_per_pixel * float(dx_px))
    level = float(start.level) + hu_per_pixel * float(dy_px)
    return WindowPreset("Custom", width=width, level=level)
