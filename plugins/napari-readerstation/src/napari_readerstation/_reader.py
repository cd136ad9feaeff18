"""npe2 reader: a DICOM folder (or one DICOM file) dropped on napari.

The folder is indexed by headers only, the arterial series of the first subject / timepoint is
proposed and loaded and shown with its true geometry and the liver window. When the phase cannot
be told, nothing is loaded and the notification asks the reader to pick the series in the Reading
dock. Bad input gives a napari notification with the reason, never a traceback.

napari calls readers synchronously on the GUI thread: for non-blocking loading with progress and
Cancel, open the folder from the Reading dock (or ``napari-readerstation FOLDER``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from napari_readerstation._adapter import VolumeView
from napari_readerstation._binding import to_layer_data
from napari_readerstation._controller import (
    derive_layer_name,
    derive_studies,
    describe_error,
    looks_like_dicom,
)
from napari_readerstation._windows import STANDARD_WINDOWS
from readerstation import dicom

__all__ = ["get_reader", "looks_like_dicom", "read_dicom"]

_log = logging.getLogger(__name__)
_NULL_LAYER: list[Any] = [(None,)]  # napari's "read fine, nothing to show" sentinel
_MAX_PROBE = 200  # files probed when deciding whether a folder holds DICOM


def _folder_has_dicom(folder: Path) -> bool:
    probed = 0
    for path in folder.rglob("*"):
        if path.is_file():
            if looks_like_dicom(path):
                return True
            probed += 1
            if probed >= _MAX_PROBE:
                return False
    return False


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[Any]] | None:
    """npe2 ``get_reader``: :func:`read_dicom` for a DICOM folder or file, else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    if p.is_dir():
        return read_dicom if _folder_has_dicom(p) else None
    if p.is_file() and looks_like_dicom(p):
        return read_dicom
    return None


def _notify(kind: str, message: str) -> None:
    from napari.utils import notifications

    show = notifications.show_warning if kind == "warning" else notifications.show_error
    if kind == "info":
        show = notifications.show_info
    show(message)


def read_dicom(path: str | list[str]) -> list[Any]:
    """Read the proposed arterial series of a DICOM folder as napari layer data.

    Parameters
    ----------
    path : str or list of one str
        A folder (indexed recursively) or one DICOM file (its series, from its folder).

    Returns
    -------
    list of LayerDataTuple
        One image layer ``(array (z, y, x) HU, kwargs, "image")`` with affine in mm, liver
        window and the series record in ``metadata["readerstation"]``; napari's empty sentinel
        ``[(None,)]`` after a notification when there is nothing to show.
    """
    if isinstance(path, list):
        path = path[0]
    target = Path(path)
    folder = target if target.is_dir() else target.parent
    try:
        index = dicom.index_folder(folder)
        studies = derive_studies(index, folder)
        if not studies:
            _notify(
                "error",
                f"No image series found in {folder} "
                f"({sum(index.skipped.values())} file(s) skipped). "
                "Choose a folder that contains CT or MR DICOM images.",
            )
            return _NULL_LAYER
        if target.is_file():
            chosen = [
                (study, info)
                for study in studies
                for info in study.series
                if any(Path(f).resolve() == target.resolve() for f in info.files)
            ]
            if not chosen:
                _notify("error", f"{target.name} is not part of an image series that can be shown.")
                return _NULL_LAYER
            study, info = chosen[0]
        else:
            study = studies[0]
            info = study.proposed
            if info is None:
                _notify(
                    "warning",
                    f"{study.subject}: could not tell which of the {len(study.series)} series is "
                    "the arterial phase. Open Plugins > readerstation > Reading, open this folder "
                    "there and pick the series to read.",
                )
                return _NULL_LAYER
        volume = dicom.load_series(dicom.plan_series(info))
    except Exception as exc:  # every failure becomes a message, never a traceback
        _notify("error", describe_error(exc))
        return _NULL_LAYER
    for warning in volume.warnings:
        _notify("warning", f"{derive_layer_name(study.subject, info)}: {warning}")
    return [
        to_layer_data(study.subject, info, VolumeView.of(volume), STANDARD_WINDOWS[0], loaded=True)
    ]
