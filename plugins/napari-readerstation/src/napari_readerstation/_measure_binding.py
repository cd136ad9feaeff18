"""Keeps napari layers in step with a :class:`~readerstation.reading.ReadingSession` (no Qt here).

The session is the truth. The binding shows the session's series as an image layer and one
napari Shapes layer per line kind (``long``, ``short``, ``viable``), each line owned by one
lesion (its tracking id in ``layer.features["tracking_id"]``). When the reader draws or drags a
line, ``layer.events.data`` fires; the binding converts the end points to patient LPS mm through
the adapter (layer data -> world -> :meth:`VolumeView.world_to_patient`) and calls
:meth:`ReadingSession.set_line`. Whatever happens, the layers are then redrawn from the session:
a refused line (off the image, two slices, zero length) snaps back to the saved one and the
reason is announced on :attr:`MeasureBinding.message`, never raised::

    binding = MeasureBinding(viewer, session)
    session.open("HCC-001", "TP0"); binding.show_read()
    binding.active_lesion = "T1"
    binding.layers["long"].add_lines([p0_data, p1_data])   # -> session.set_line("T1", "long", ...)

At a follow-up, :meth:`show_read` also shows the reader's signed prior read beside the current
image (napari grid: side by side on a wide canvas, one above the other on a tall one, whichever
shows the images larger, :meth:`choose_grid_shape`; the camera is fitted so that both images are
whole, :meth:`fit_view`), each in its own frame: the two
series have different origins, and since every layer's world coordinates are signed patient
LPS mm (the adapter), the shared slice position is a patient z, so moving the current slice
shows the prior slice nearest to the same patient z. The prior's lines are read-only (an edit
snaps back).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from psygnal import Signal

from napari_readerstation._adapter import VolumeView
from napari_readerstation._binding import to_layer_data
from napari_readerstation._windows import find_window
from readerstation.errors import GeometryError, MeasurementError, ReaderstationError, ReadingError
from readerstation.geometry import Volume
from readerstation.model import LinePoints, Measurement, TimepointRead
from readerstation.reading import LineKind, ReadingSession

__all__ = ["LINE_COLOURS", "LINE_WIDTHS", "MeasureBinding"]

_log = logging.getLogger(__name__)

#: Edge colour of each kind of line.
LINE_COLOURS = {LineKind.LONG: "yellow", LineKind.SHORT: "cyan", LineKind.VIABLE: "orange"}
_LINE_FIELD = {
    LineKind.LONG: "long_axis_line",
    LineKind.SHORT: "short_axis_line",
    LineKind.VIABLE: "viable_line",
}
#: Edge width (screen pixels) of each kind: the viable line is drawn thinner, over the long axis.
LINE_WIDTHS = {LineKind.LONG: 2.0, LineKind.SHORT: 2.0, LineKind.VIABLE: 1.0}
_SAME_MM = 1e-3


def camera(viewer: Any) -> Any:
    """The viewer's camera (``viewer.scene.camera`` since napari 0.9)."""
    scene = getattr(viewer, "scene", None)
    cam = getattr(scene, "camera", None)
    return cam if cam is not None else viewer.camera


def _grid(viewer: Any) -> Any:
    """The viewer's grid settings (``viewer.canvas.grid`` since napari 0.9)."""
    canvas = getattr(viewer, "canvas", None)
    grid = getattr(canvas, "grid", None)
    return grid if grid is not None else viewer.grid


def _read_lines(read: TimepointRead, kind: LineKind) -> list[tuple[str, str, LinePoints]]:
    """(tracking id, label, line) of every lesion of ``read`` with a ``kind`` line."""
    out = []
    for a in read.lesions:
        m = a.measurement
        line = getattr(m, _LINE_FIELD[kind]) if m is not None else None
        if line is not None:
            out.append((a.lesion.tracking_id, a.lesion.label, line))
    return out


def _first_line(m: Measurement | None) -> LinePoints | None:
    for kind in LineKind:
        line = getattr(m, _LINE_FIELD[kind]) if m is not None else None
        if line is not None:
            return cast(LinePoints, line)
    return None


@contextlib.contextmanager
def refresh_once(layer: Any) -> Iterator[None]:
    """Apply several changes to ``layer`` with one refresh (slice + redraw) at the end."""
    block = getattr(layer, "_block_refresh", None)  # napari >= 0.5 (private, hence the guard)
    with block() if block is not None else contextlib.nullcontext():
        yield
    layer.refresh()


def place_image(viewer: Any, layer: Any | None, data: Any, kwargs: dict[str, Any]) -> Any:
    """A new image layer in ``viewer``, or ``layer`` (shown) given new voxels, placement,
    window and name; ``data`` and ``kwargs`` as :func:`to_layer_data` makes them."""
    if layer is None or layer not in viewer.layers:
        return viewer.add_image(data, **kwargs)
    # one refresh (slice + texture upload) for the whole update, not one per attribute
    with refresh_once(layer):
        layer.affine = kwargs["affine"]
        layer.data = data
        layer.metadata = kwargs["metadata"]
        layer.reset_contrast_limits_range()
        layer.contrast_limits = kwargs["contrast_limits"]
        layer.name = kwargs["name"]
        layer.visible = True
    return layer


def _label_lines(layer: Any, lines: list[tuple[str, str, LinePoints]], kind: LineKind) -> None:
    """Set the owners of a layer's lines; the long axis lines carry the lesion label."""
    layer.features = {
        "tracking_id": np.array([t for t, _, _ in lines], dtype=object),
        "label": np.array([lab for _, lab, _ in lines], dtype=object),
    }
    if kind is LineKind.LONG and lines:
        layer.text = {
            "string": "{label}",
            "color": LINE_COLOURS[kind],
            "size": 10,
            "anchor": "upper_left",
        }


class MeasureBinding:
    """Shows a reading session's series and lines in ``viewer`` and turns edits into calls.

    Parameters
    ----------
    viewer : napari.components.ViewerModel
    session : ReadingSession

    Signals
    -------
    message(str, bool)
        A text for the reader and whether it is an error.
    changed()
        The session's read changed (a line was saved or refused).
    """

    message = Signal(str, bool)
    changed = Signal()

    def __init__(self, viewer: Any, session: ReadingSession) -> None:
        self.viewer = viewer
        self.session = session
        self.image_layer: Any | None = None
        self.layers: dict[LineKind, Any] = {}
        self.view: VolumeView | None = None
        self.active_lesion: str | None = None
        self.prior_image_layer: Any | None = None
        self.prior_layers: dict[LineKind, Any] = {}
        self.prior_view: VolumeView | None = None
        self._syncing = False
        self._suspended = False
        self._hidden_prior: tuple[Any, dict[LineKind, Any]] | None = None
        self._removing: dict[LineKind, tuple[int, ...]] = {}
        viewer.layers.selection.events.active.connect(self._on_active_layer)

    # ------------------------------------------------------------------ showing
    def show_read(self, prior_volume: Volume | None = None) -> None:
        """Show the image and line layers of the session's open read.

        The layers of the previous case are reused (new voxels, placement and lines): building
        napari layers and their vispy visuals is the slow part of opening a case on the GUI
        thread, updating them is not. The prior's layers are added (below the current ones) or
        removed as the new case needs.

        Parameters
        ----------
        prior_volume : Volume or None
            The image of the session's signed prior read
            (:meth:`ReadingSession.load_prior_volume`); shown read-only beside the current one.
        """
        self._suspended = False
        session = self.session
        volume = session.volume
        prior = session.prior_read
        self.viewer.canvas.events.size.disconnect(self._on_canvas_resized)
        if prior is not None and prior_volume is not None:
            self._show_prior(prior_volume)
        else:
            self._remove_prior()
        self.view = VolumeView.of(volume)
        data, kwargs, _ = to_layer_data(
            session.read.subject.code, session.series, self.view, find_window("Liver"), loaded=True
        )
        kwargs["name"] = f"{session.read.subject.code}/{session.read.timepoint.label} reading"
        self.image_layer = place_image(self.viewer, self.image_layer, data, kwargs)
        self.viewer.dims.axis_labels = kwargs["axis_labels"]
        self.viewer.dims.ndisplay = 2
        for kind in LineKind:
            layer = self.layers.get(kind)
            if layer is not None and layer in self.viewer.layers:
                self._syncing = True
                try:
                    layer.affine = self.view.layer_kwargs()["affine"]
                finally:
                    self._syncing = False
                layer.editable = True
                continue
            layer = self.viewer.add_shapes(
                ndim=3,
                name=f"{kind.value} axis" if kind is not LineKind.VIABLE else "viable diameter",
                edge_color=LINE_COLOURS[kind],
                edge_width=LINE_WIDTHS[kind],
                face_color="transparent",
                features={
                    "tracking_id": np.array([], dtype=object),
                    "label": np.array([], dtype=object),
                },
                **self.view.layer_kwargs(),
            )
            layer.events.data.connect(lambda event, k=kind: self._on_data(k, event))
            self.layers[kind] = layer
        self.redraw()  # before the layout changes: empty line layers are hidden first
        self._keep_own_layers_in_front()
        grid = _grid(self.viewer)
        if self.prior_layers:
            grid.stride = 1 + len(LineKind)
            grid.shape = self.choose_grid_shape()
        grid.enabled = bool(self.prior_layers)
        # a caption in each cell ("HCC-001/TP0 prior (signed)", "HCC-001/TP1 reading"): which
        # image is which must not depend on remembering the layout (napari >= 0.6)
        for layer in (self.image_layer, self.prior_image_layer):
            caption = getattr(layer, "name_overlay", None)
            if caption is not None:
                caption.visible = bool(self.prior_layers)
        self.fit_view()
        if self.prior_layers:
            self.viewer.canvas.events.size.connect(self._on_canvas_resized)
        # the current image is the active layer (napari makes the last layer added active,
        # often a prior's): its contrast controls show; F2-F4 make a line layer active
        self.viewer.layers.selection.active = self.image_layer
        first = next((a for a in session.read.lesions if a.measurement is not None), None)
        if first is not None:
            self.jump_to(first.lesion.label)
        else:
            self.viewer.dims.set_point(0, self.view.middle_slice_world())

    def own_layers(self) -> list[Any]:
        """The layers showing the case, in grid order: the prior's cell (image, then its line
        layers), then the current one (image, long, short, viable)."""
        layers = [self.prior_image_layer, *self.prior_layers.values()]
        layers += [self.image_layer, *self.layers.values()]
        return [layer for layer in layers if layer is not None]

    def _keep_own_layers_in_front(self) -> None:
        """Hide every other visible layer (the Reading dock's series, a dropped folder) and, with
        a prior, put the case's layers first in the layer list in grid order.

        napari's grid fills its cells by layer index, ``stride`` layers each: another visible
        layer among ours shifts the cells (the current lines land in a third cell, drawn over
        the prior), and one beside ours covers the image in one view. A hidden layer takes no
        cell; the reader can show it again in the layer list.
        """
        ours = self.own_layers()
        for layer in list(self.viewer.layers):
            if layer.visible and layer not in ours:  # the hidden prior's layers are hidden
                layer.visible = False
        if not self.prior_layers:
            return
        indices = [self.viewer.layers.index(layer) for layer in ours]
        if indices != list(range(len(ours))):
            self.viewer.layers.move_multiple(indices, 0)

    def suspend(self) -> None:
        """Freeze the shown case while the session changes case (in a worker thread): the
        line layers stop taking edits and any edit is ignored until :meth:`show_read`."""
        self._suspended = True
        for layer in (*self.layers.values(), *self.prior_layers.values()):
            layer.mode = "pan_zoom"
            layer.editable = False

    def _remove_prior(self) -> None:
        """No prior for this case: hide the prior's layers (and drop their voxels) rather than
        remove them; napari's layer removal forces a full garbage collection (~0.4 s each), and
        the next follow-up reuses them."""
        self.prior_view = None
        if self.prior_image_layer is None:
            return
        self._hidden_prior = (self.prior_image_layer, dict(self.prior_layers))
        # the grid off first, then hide, then drop the data: a hidden layer is neither re-sliced
        # nor drawn, so emptying it costs nothing on screen (emptying first re-slices and
        # redraws each layer in a grid that is about to go)
        _grid(self.viewer).enabled = False
        image = self.prior_image_layer
        for layer in (image, *self.prior_layers.values()):
            layer.visible = False
        self._syncing = True
        try:
            for layer in self.prior_layers.values():
                layer.data = []
        finally:
            self._syncing = False
        image.data = np.zeros((1, 1, 1), dtype=np.int16)
        image.name = "prior (none)"
        self.prior_image_layer, self.prior_layers = None, {}

    def _show_prior(self, volume: Volume) -> None:
        prior = self.session.prior_read
        if prior is None:
            return
        self.prior_view = VolumeView.of(volume)
        data, kwargs, _ = to_layer_data(
            prior.subject.code,
            self.session.series,
            self.prior_view,
            find_window("Liver"),
            loaded=True,
        )
        kwargs["name"] = f"{prior.subject.code}/{prior.timepoint.label} prior (signed)"
        if self.prior_image_layer is None and self._hidden_prior is not None:
            hidden_image, hidden_lines = self._hidden_prior
            if hidden_image in self.viewer.layers:
                # the line layers stay hidden until drawn: _draw_prior shows those with lines
                self.prior_image_layer, self.prior_layers = hidden_image, hidden_lines
        self._hidden_prior = None
        existing = self.prior_image_layer
        self.prior_image_layer = place_image(self.viewer, existing, data, kwargs)
        if existing is not None and self.prior_layers:
            for layer in self.prior_layers.values():
                self._syncing = True
                try:
                    layer.affine = self.prior_view.layer_kwargs()["affine"]
                finally:
                    self._syncing = False
                layer.editable = True
            self._draw_prior()
            return
        for kind in LineKind:
            layer = self.viewer.add_shapes(
                ndim=3,
                name=f"prior {kind.value}",
                edge_color=LINE_COLOURS[kind],
                edge_width=LINE_WIDTHS[kind],
                face_color="transparent",
                opacity=0.8,
                **self.prior_view.layer_kwargs(),
            )
            layer.events.data.connect(lambda event: self._on_prior_edit(event))
            self.prior_layers[kind] = layer
        # the prior's cell comes first in the grid: its layers sit below the current ones
        ours = [self.prior_image_layer, *self.prior_layers.values()]
        indices = [self.viewer.layers.index(lay) for lay in ours]
        if indices != list(range(len(ours))):
            self.viewer.layers.move_multiple(indices, 0)
        self._draw_prior()

    def _draw_prior(self) -> None:
        prior, view = self.session.prior_read, self.prior_view
        if prior is None or view is None:
            return
        self._syncing = True
        try:
            for kind, layer in self.prior_layers.items():
                lines = _read_lines(prior, kind)
                with refresh_once(layer):
                    layer.data = []
                    if lines:
                        world = [
                            view.patient_to_world(np.asarray([ln.start, ln.end]))
                            for _, _, ln in lines
                        ]
                        layer.add_lines(
                            [np.array([layer.world_to_data(w) for w in pts]) for pts in world],
                            edge_color=LINE_COLOURS[kind],
                            edge_width=LINE_WIDTHS[kind],
                        )
                    _label_lines(layer, lines, kind)
                # a line layer with nothing to show stays hidden: napari builds four shader
                # programs for every visible Shapes layer, empty or not, on each layout change
                if layer.visible != bool(lines):
                    layer.visible = bool(lines)
        finally:
            self._syncing = False

    def _on_prior_edit(self, event: Any) -> None:
        if (
            self._syncing
            or self._suspended
            or str(getattr(event, "action", ""))
            not in (
                "added",
                "changed",
                "removed",
            )
        ):
            return
        self._draw_prior()
        where = self.prior_position()
        current = {"left": "right", "right": "left", "above": "below", "below": "above"}
        self.message.emit(
            "the prior read is signed and cannot change here; draw on the current image"
            + (f" ({current[where]})" if where in current else ""),
            True,
        )

    def clear(self) -> None:
        """Remove the layers this binding added."""
        layers = [self.image_layer, *self.layers.values()]
        layers += [self.prior_image_layer, *self.prior_layers.values()]
        if self._hidden_prior is not None:
            layers += [self._hidden_prior[0], *self._hidden_prior[1].values()]
            self._hidden_prior = None
        for layer in layers:
            if layer is not None and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        self.image_layer, self.layers, self.view = None, {}, None
        self.prior_image_layer, self.prior_layers, self.prior_view = None, {}, None
        self.viewer.canvas.events.size.disconnect(self._on_canvas_resized)
        self.viewer.layers.selection.events.active.disconnect(self._on_active_layer)
        _grid(self.viewer).enabled = False

    def _on_canvas_resized(self) -> None:
        """A resized canvas may call for the other prior / current layout: refit then only
        (the reader's zoom is kept otherwise)."""
        grid = _grid(self.viewer)
        if self.prior_layers and grid.enabled and tuple(grid.shape) != self.choose_grid_shape():
            self.fit_view()

    def _lines(self, kind: LineKind) -> list[tuple[str, Any]]:
        return [(t, ln) for t, _, ln in _read_lines(self.session.read, kind)]

    def redraw(self) -> None:
        """Redraw every line layer from the session (the saved read is the truth)."""
        if self.view is None:
            return
        self._syncing = True
        try:
            for kind, layer in self.layers.items():
                lines = _read_lines(self.session.read, kind)
                shapes = [self._patient_to_data(layer, [ln.start, ln.end]) for _, _, ln in lines]
                with refresh_once(layer):
                    layer.data = []
                    if shapes:
                        layer.add_lines(
                            shapes, edge_color=LINE_COLOURS[kind], edge_width=LINE_WIDTHS[kind]
                        )
                    _label_lines(layer, lines, kind)
                # an empty line layer is hidden unless it is the one being drawn on: napari
                # builds four shader programs for each visible Shapes layer, empty or not, and
                # rebuilds them whenever the layout (grid on / off) changes
                shown = bool(lines) or layer is self.viewer.layers.selection.active
                if layer.visible != shown:
                    layer.visible = shown
        finally:
            self._syncing = False

    def _on_active_layer(self, event: Any = None) -> None:
        """A line layer of the current read made active (F2-F4, a click in the layer list) is
        shown, so that what is drawn on it is seen."""
        active = self.viewer.layers.selection.active
        if active is not None and not active.visible:
            if any(active is layer for layer in self.layers.values()):
                active.visible = True

    def jump_to(self, lesion: str) -> float | None:
        """Show the slice of a lesion's first line (at a follow-up without a line yet: the
        slice of its line in the prior read), centred on the line's middle; the prior beside
        follows by patient z and is centred on the same patient position.

        Returns
        -------
        float or None
            The world slice coordinate shown (mm), None when the lesion has no line.
        """
        if self.view is None:
            return None
        a = self.session.assessment(lesion)
        line = _first_line(a.measurement)
        if line is None and self.session.prior_read is not None:
            tid = a.lesion.tracking_id
            before = [b for b in self.session.prior_read.lesions if b.lesion.tracking_id == tid]
            line = _first_line(before[0].measurement) if before else None
        if line is None:
            return None
        world = self.view.patient_to_world(np.asarray([line.start, line.end])).mean(axis=0)
        self.viewer.dims.set_point(0, float(world[0]))
        # centre on the line: world is patient LPS mm in every cell, so the prior beside is
        # centred on the same patient position; but never push part of an image out of its
        # cell when the whole image fits at this zoom (a cropped body at fit zoom looks broken)
        camera(self.viewer).center = self._clamped_center(float(world[1]), float(world[2]))
        return float(world[0])

    # ------------------------------------------------------------------ layout
    def _image_extent(self) -> NDArray[np.float64]:
        """(2, 2) min / max world (row, column) mm covered by the shown images."""
        layers = [lay for lay in (self.image_layer, self.prior_image_layer) if lay is not None]
        if not layers:
            return np.array([[0.0, 0.0], [1.0, 1.0]])
        ext = np.array([lay.extent.world[:, -2:] for lay in layers])
        return np.array([ext[:, 0].min(axis=0), ext[:, 1].max(axis=0)])

    def choose_grid_shape(self) -> tuple[int, int]:
        """The prior / current layout that shows the images largest on this canvas: side by
        side ``(1, 2)`` on a wide canvas, one above the other ``(2, 1)`` on a tall one (napari
        docks often leave the canvas taller than wide)."""
        size = np.asarray(self.viewer.canvas.size, float)  # (height, width) pixels
        extent = self._image_extent()
        span = np.maximum(extent[1] - extent[0], 1e-6)  # (rows, columns) mm
        side = float(np.min(size / np.array([1.0, 2.0]) / span))
        stacked = float(np.min(size / np.array([2.0, 1.0]) / span))
        return (2, 1) if stacked > side * 1.05 else (1, 2)

    def fit_view(self) -> None:
        """Fit the camera so that the current image (and the prior beside it) is whole and as
        large as its cell allows; re-chooses the prior / current layout for the canvas."""
        grid = _grid(self.viewer)
        if self.prior_layers and grid.enabled:
            shape = self.choose_grid_shape()
            if tuple(grid.shape) != shape:
                grid.shape = shape
        layers = [lay for lay in (self.image_layer, self.prior_image_layer) if lay is not None]
        if layers:
            self.viewer.fit_to_view(layers=layers, margin=0.02)
        else:
            self.viewer.reset_view()

    def prior_position(self) -> str | None:
        """Where the prior is shown ("left", "right", "above", "below"), None without a prior."""
        cell = self.cell_of(self.prior_image_layer)
        here = self.cell_of(self.image_layer)
        if cell is None or here is None or cell == here:
            return None
        if cell[0] == here[0]:
            return "left" if cell[1] < here[1] else "right"
        return "above" if cell[0] < here[0] else "below"

    def cell_of(self, layer: Any) -> tuple[int, int] | None:
        """The grid cell (row, column) showing ``layer``; None when not shown in a grid."""
        grid = _grid(self.viewer)
        if layer is None or not grid.enabled or layer not in self.viewer.layers:
            return None
        pos = grid.position(self.viewer.layers.index(layer), self.viewer.layers)
        return None if pos == (-1, -1) else (int(pos[0]), int(pos[1]))

    def is_prior_cell(self, viewbox: Any) -> bool:
        """Whether a mouse event's grid cell (``event.viewbox``) is the prior's."""
        cell = self.cell_of(self.prior_image_layer)
        if cell is None or viewbox is None:
            return False
        return tuple(int(v) for v in viewbox) == cell

    def _clamped_center(self, row: float, col: float) -> tuple[float, float]:
        """``(row, col)`` moved as little as needed to keep the images in view: on an axis
        where the images fit the cell at the current zoom, their centre; otherwise the nearest
        centre that shows no empty space beyond the image."""
        zoom = float(camera(self.viewer).zoom)
        cell = np.asarray(self.viewer.canvas.viewbox_size(self.viewer.layers), float)
        half = cell / max(zoom, 1e-9) / 2.0  # half the visible (rows, columns) in mm
        extent = self._image_extent()
        out = []
        for axis, want in enumerate((row, col)):
            lo, hi = float(extent[0, axis]), float(extent[1, axis])
            if hi - lo <= 2 * half[axis]:
                out.append((lo + hi) / 2.0)
            else:
                out.append(float(np.clip(want, lo + half[axis], hi - half[axis])))
        return out[0], out[1]

    def prior_slice_index(self) -> int | None:
        """The prior image's slice shown now (array index), None when no prior is shown."""
        if self.prior_image_layer is None or self.prior_view is None:
            return None
        point = np.asarray(self.viewer.dims.point, float)
        data = self.prior_image_layer.world_to_data(point)
        return int(np.clip(np.rint(data[0]), 0, self.prior_view.volume.shape[0] - 1))

    # ------------------------------------------------------------------ coordinates
    def _shown_view(self) -> VolumeView:
        if self.view is None:
            raise ReadingError("no read is shown; open a task first.")
        return self.view

    def _data_to_patient(self, layer: Any, vertices: Any) -> NDArray[np.float64]:
        """LPS mm of a shapes layer's vertices: layer data -> world -> patient (the adapter)."""
        world = np.array([layer.data_to_world(np.asarray(v, float)) for v in vertices])
        return self._shown_view().world_to_patient(world)

    def _patient_to_data(self, layer: Any, points_lps: Any) -> NDArray[np.float64]:
        """Layer data coordinates of LPS points: patient -> world (the adapter) -> layer data."""
        world = self._shown_view().patient_to_world(np.asarray(points_lps, float))
        return np.array([layer.world_to_data(w) for w in world])

    def _sop_of(self, lps: NDArray[np.float64]) -> str:
        volume = self.session.volume
        try:
            k = volume.nearest_index(lps)[0]
        except GeometryError:  # off the image: check_line_on_volume says so with its message
            k = int(np.clip(np.rint(volume.patient_to_index(lps)[0]), 0, volume.shape[0] - 1))
        return volume.sop_instance_uids[k]

    # ------------------------------------------------------------------ edits -> session
    def _on_data(self, kind: LineKind, event: Any) -> None:
        if self._syncing or self._suspended:
            return
        action = str(getattr(event, "action", ""))
        if action == "removing":
            self._removing[kind] = tuple(getattr(event, "data_indices", ()))
            return
        if action not in ("added", "changed", "removed"):
            return
        try:
            if action == "removed":
                self._apply_removed(kind)
            else:
                self._apply_lines(kind)
        except ReaderstationError as exc:
            self.message.emit(str(exc), True)
        except Exception as exc:  # never a traceback in the viewer
            _log.exception("unexpected error while saving a line")
            self.message.emit(f"the line could not be saved ({type(exc).__name__}: {exc})", True)
        finally:
            self.redraw()
            self.changed.emit()

    def _apply_removed(self, kind: LineKind) -> None:
        owners = [t for t, _ in self._lines(kind)]
        for i in self._removing.pop(kind, ()):
            if 0 <= i < len(owners):
                self.session.clear_line(owners[i], kind)
                label = self.session.assessment(owners[i]).lesion.label
                self.message.emit(f"{label}: {kind.value} line removed", False)

    def _apply_lines(self, kind: LineKind) -> None:
        layer = self.layers[kind]
        known = self._lines(kind)
        owners = [t for t, _ in known]
        for i, vertices in enumerate(layer.data):
            if i < len(owners):
                owner = owners[i]
                saved = known[i][1]
            else:
                if self.active_lesion is None:
                    raise ReadingError(
                        "no lesion is selected: pick a lesion in the table (or add one) before "
                        "drawing its line."
                    )
                owner = self.session.assessment(self.active_lesion).lesion.tracking_id
                saved = None
            if layer.shape_type[i] != "line" or len(vertices) != 2:
                raise MeasurementError(
                    f"a {layer.shape_type[i]} was drawn on the {kind.value} layer; draw a line "
                    "(two end points)."
                )
            lps = self._data_to_patient(layer, vertices)
            if saved is not None and np.allclose(lps, [saved.start, saved.end], atol=_SAME_MM):
                continue
            a = self.session.set_line(
                owner,
                kind,
                lps[0],
                lps[1],
                self._sop_of(lps[0]),
                series_uid=self.session.series.series_uid,
            )
            m = a.measurement
            mm = getattr(m, _LINE_FIELD[kind]).length_mm if m is not None else float("nan")
            self.message.emit(f"{a.lesion.label}: {kind.value} {mm:.1f} mm saved", False)
