"""Keeps a napari viewer's image layer in step with a :class:`ReadingController` (no Qt here).

Works the same whether the controller is driven by the dock or by a script::

    binding = ViewerBinding(viewer, controller)
    controller.open_folder("sample_dicom")
    controller.open_series()          # the layer appears, liver window, middle slice
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from napari_readerstation._adapter import LAYER_METADATA_KEY, VolumeView
from napari_readerstation._controller import (
    LoadJob,
    OpenSeries,
    ReadingController,
    derive_layer_name,
)
from napari_readerstation._windows import WindowPreset, compute_display_limits

__all__ = ["SeriesRecord", "ViewerBinding", "to_layer_data"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class SeriesRecord:
    """What a readerstation image layer carries in ``layer.metadata["readerstation"]``.

    Parameters
    ----------
    subject : str
        Trial subject code.
    info : SeriesInfo
        Headers summary of the series.
    view : VolumeView
        The Volume (being filled while ``loaded`` is False) and its napari placement.
    loaded : bool
        True once every slice has been decoded.
    """

    subject: str
    info: Any
    view: VolumeView
    loaded: bool


def to_layer_data(
    subject: str, info: Any, view: VolumeView, window: WindowPreset, *, loaded: bool
) -> tuple[Any, dict[str, Any], str]:
    """A napari LayerDataTuple ``(data, kwargs, "image")`` showing ``view`` with ``window``."""
    limits = (
        compute_display_limits(view.volume.array, info.modality, window)
        if loaded
        else window.contrast_limits
    )
    kwargs: dict[str, Any] = {
        "name": derive_layer_name(subject, info),
        "colormap": "gray",
        "contrast_limits": limits,
        "interpolation2d": "nearest",
        "metadata": {LAYER_METADATA_KEY: SeriesRecord(subject, info, view, loaded)},
        **view.layer_kwargs(),
    }
    return (view.volume.array, kwargs, "image")


class ViewerBinding:
    """Shows the controller's series in ``viewer`` and applies its window.

    Parameters
    ----------
    viewer : napari.components.ViewerModel
        The viewer (model) to draw in.
    controller : ReadingController
        The reading session to follow.
    """

    def __init__(self, viewer: Any, controller: ReadingController) -> None:
        self.viewer = viewer
        self.controller = controller
        self.layer: Any | None = None
        self._job: LoadJob | None = None
        controller.series_planned.connect(self._on_planned)
        controller.series_loaded.connect(self._on_loaded)
        controller.loading_cancelled.connect(self._on_stopped)
        controller.failed.connect(self._on_failed)
        controller.window_changed.connect(self._on_window)

    def disconnect(self) -> None:
        """Stop following the controller (when the dock closes); a half-loaded layer goes."""
        if self._job is not None:
            self._job = None
            try:
                self._remove_layer()
            except Exception:  # the viewer may be closing too
                _log.debug("could not remove the loading layer", exc_info=True)
        c = self.controller
        for signal, slot in (
            (c.series_planned, self._on_planned),
            (c.series_loaded, self._on_loaded),
            (c.loading_cancelled, self._on_stopped),
            (c.failed, self._on_failed),
            (c.window_changed, self._on_window),
        ):
            signal.disconnect(slot, missing_ok=True)

    # ------------------------------------------------------------------ layer lifecycle
    def _replace_layer(self, layer_data: tuple[Any, dict[str, Any], str]) -> None:
        data, kwargs, _ = layer_data
        self._remove_layer()
        self.layer = self.viewer.add_image(data, **kwargs)
        self._fit_contrast_range()
        self.viewer.dims.axis_labels = kwargs["axis_labels"]
        self.viewer.dims.ndisplay = 2
        self.viewer.dims.order = (0, 1, 2)
        self.viewer.reset_view()
        view: VolumeView = kwargs["metadata"][LAYER_METADATA_KEY].view
        self.viewer.dims.set_point(0, view.middle_slice_world())

    def _fit_contrast_range(self) -> None:
        """Contrast slider range: every window preset plus the data's range (HU)."""
        if self.layer is None:
            return
        limits = [w.contrast_limits for w in self.controller.windows]
        lo = min(lim[0] for lim in limits)
        hi = max(lim[1] for lim in limits)
        data = self.layer.data
        if data.size:
            lo, hi = min(lo, float(data.min())), max(hi, float(data.max()))
        window = self.layer.contrast_limits
        self.layer.contrast_limits_range = (lo, hi)
        self.layer.contrast_limits = window

    def _remove_layer(self) -> None:
        if self.layer is not None and self.layer in self.viewer.layers:
            self.viewer.layers.remove(self.layer)
        self.layer = None

    def _on_planned(self, job: LoadJob) -> None:
        if job.view is None:
            return
        self._job = job
        self._replace_layer(
            to_layer_data(job.subject, job.info, job.view, self.controller.window, loaded=False)
        )

    def refresh(self) -> int:
        """Redraw the layer while its buffer fills; returns the number of slices decoded."""
        if self.layer is not None and self._job is not None:
            self.layer.refresh()
            return self._job.done
        return 0

    def _on_loaded(self, opened: OpenSeries) -> None:
        job, self._job = self._job, None
        if (
            self.layer is not None
            and job is not None
            and job.out is not None
            and opened.volume.array is job.out
        ):
            # Same buffer: keep the layer (and the reader's zoom / slice), update its record.
            self.layer.metadata = {
                LAYER_METADATA_KEY: SeriesRecord(opened.subject, opened.info, opened.view, True)
            }
            self._fit_contrast_range()
            self.layer.contrast_limits = compute_display_limits(
                opened.volume.array, opened.info.modality, self.controller.window
            )
            self.layer.refresh()
            return
        self._replace_layer(
            to_layer_data(
                opened.subject, opened.info, opened.view, self.controller.window, loaded=True
            )
        )

    def _on_stopped(self, job: LoadJob) -> None:
        if job is self._job:
            self._job = None
            self._remove_layer()  # a half-filled volume must not be read

    def _on_failed(self, message: str) -> None:
        if self._job is not None and self.controller.job is None:  # the shown load failed
            self._job = None
            self._remove_layer()

    def _on_window(self, window: WindowPreset) -> None:
        if self.layer is not None and self.layer in self.viewer.layers:
            self.layer.contrast_limits = window.contrast_limits
