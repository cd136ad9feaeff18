"""The adjudication packet in napari (no Qt here): both blinded reads' lines on the same image.

The store's packet (:meth:`Repository.adjudication_packet`) is the truth; this module only turns
it into what the Adjudication dock shows:

* :func:`derive_timeline_rows` / :func:`derive_outcome_rows`: the two reads' timelines and
  subject-level outcomes side by side, per criteria, with the rows that differ flagged;
* :class:`AdjudicationBinding`: one timepoint's image (the series read A measured on) with
  read A's and read B's lines in two colours, on layers named ``Read A lines`` /
  ``Read B lines`` (no reader names anywhere), read-only (an edit snaps back)::

    binding = AdjudicationBinding(viewer, DicomFolderSource("sample_dicom"))
    volume = binding.load_volume(packet, "TP2")        # slow: off the GUI thread
    binding.show(packet, "TP2", volume)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from psygnal import Signal

from napari_readerstation._adapter import VolumeView
from napari_readerstation._binding import to_layer_data
from napari_readerstation._measure_binding import camera, place_image, refresh_once
from napari_readerstation._windows import find_window
from readerstation.errors import ReadingError, SeriesSelectionError
from readerstation.geometry import Volume
from readerstation.reading import DicomFolderSource

__all__ = [
    "OUTCOME_FIELDS",
    "READ_COLOURS",
    "AdjudicationBinding",
    "LesionRow",
    "OutcomeRow",
    "TimelineRow",
    "derive_lesion_rows",
    "derive_outcome_rows",
    "derive_timeline_rows",
    "derive_timepoint_labels",
]

#: Edge colour of each read's lines (colour-blind safe pair: blue and orange-red).
READ_COLOURS = {"A": "#33a3ff", "B": "#ff6a3d"}
_POINT_KEYS = (
    ("long_axis_points", "long", 2.0),
    ("short_axis_points", "short", 2.0),
    ("viable_points", "viable", 1.0),
)

#: Subject-level outcomes shown side by side: (result key, label, charter variable or None).
OUTCOME_FIELDS: tuple[tuple[str, str, str | None], ...] = (
    ("best_overall_response", "Best overall response", "best_overall_response"),
    ("progression_date", "Date of progression", "progression_date"),
    ("first_response_date", "Date of first response", "response_date"),
    ("best_overall_response_unconfirmed", "BOR unconfirmed", None),
    ("pfs_days", "PFS days", None),
)


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One timepoint of both reads under one criteria (what the packet's results say)."""

    timepoint: str
    date: str | None
    sum_a: float | None
    sum_b: float | None
    response_a: str | None
    response_b: str | None
    new_lesions_a: str | None
    new_lesions_b: str | None

    @property
    def differs(self) -> bool:
        """The timepoint responses differ."""
        return self.response_a != self.response_b


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """One subject-level outcome of both reads; ``flagged`` when it is a charter variable that
    differs (it needs the adjudicator's decision)."""

    label: str
    value_a: str
    value_b: str
    variable: str | None
    flagged: bool

    @property
    def differs(self) -> bool:
        """The two reads' values differ."""
        return self.value_a != self.value_b


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def derive_timeline_rows(packet: Mapping[str, Any], criteria: str) -> list[TimelineRow]:
    """Both reads' timepoints under ``criteria`` from a packet, in the engine's order."""
    try:
        results = packet["criteria"][criteria]["results"]
        a, b = results["A"]["timepoints"], results["B"]["timepoints"]
    except (KeyError, TypeError) as exc:
        raise ReadingError(
            f"adjudication packet: no results for criteria {criteria!r} ({exc!r}); open the "
            "packet again."
        ) from exc
    by_label_b = {t["timepoint"]: t for t in b}
    rows = []
    for ta in a:
        tb = by_label_b.get(ta["timepoint"], {})
        rows.append(
            TimelineRow(
                ta["timepoint"],
                ta.get("date"),
                ta.get("sum_mm"),
                tb.get("sum_mm"),
                ta.get("overall_response"),
                tb.get("overall_response"),
                ta.get("new_lesions"),
                tb.get("new_lesions"),
            )
        )
    return rows


def derive_outcome_rows(packet: Mapping[str, Any], criteria: str) -> list[OutcomeRow]:
    """Both reads' subject-level outcomes under ``criteria`` (BOR, dates...), flagged where a
    charter variable differs."""
    entry = packet["criteria"][criteria]
    results = entry["results"]
    differing = set(entry.get("variables") or ())
    rows = []
    for key, label, variable in OUTCOME_FIELDS:
        a, b = _text(results["A"].get(key)), _text(results["B"].get(key))
        rows.append(OutcomeRow(label, a, b, variable, variable in differing))
    return rows


@dataclass(frozen=True, slots=True)
class LesionRow:
    """One lesion of one read at a timepoint, as the packet has it."""

    read: str
    lesion: str
    role: str
    long_axis_mm: float | None
    viable_long_axis_mm: float | None
    state: str
    points: np.ndarray | None = field(default=None, compare=False)
    only_in_one_read: bool = False


def derive_lesion_rows(packet: Mapping[str, Any], label: str) -> list[LesionRow]:
    """Both reads' measured lesions at timepoint ``label``, A first; a lesion label that only
    one read has (a new lesion one reader called, another target choice) is flagged."""
    per_read = {
        letter: list(_timepoint(packet, letter, label).get("lesions", ())) for letter in "AB"
    }
    names = {letter: {str(x["lesion"]) for x in les} for letter, les in per_read.items()}
    rows = []
    for letter, lesions in per_read.items():
        other = names["B" if letter == "A" else "A"]
        for x in lesions:
            pts = x.get("long_axis_points") or x.get("viable_points") or x.get("short_axis_points")
            rows.append(
                LesionRow(
                    letter,
                    str(x["lesion"]),
                    str(x.get("role", "")),
                    x.get("long_axis_mm"),
                    x.get("viable_long_axis_mm"),
                    str(x.get("state", "")),
                    None if not pts else np.asarray(pts, float),
                    str(x["lesion"]) not in other,
                )
            )
    return rows


def derive_timepoint_labels(packet: Mapping[str, Any]) -> list[str]:
    """The timepoint labels of read A (both reads have the same ones)."""
    return [str(t["label"]) for t in packet["reads"]["A"]["timepoints"]]


def _timepoint(packet: Mapping[str, Any], letter: str, label: str) -> Mapping[str, Any]:
    for t in packet["reads"][letter]["timepoints"]:
        if t["label"] == label:
            return t
    raise ReadingError(f"adjudication packet: read {letter} has no timepoint {label!r}.")


def _read_lines(tp: Mapping[str, Any]) -> list[tuple[str, str, float, np.ndarray]]:
    """(lesion label, line kind, edge width, 2x3 LPS points) of every line of a timepoint."""
    out = []
    for lesion in tp.get("lesions", ()):
        for key, kind, width in _POINT_KEYS:
            pts = lesion.get(key)
            if pts:
                out.append((str(lesion["lesion"]), kind, width, np.asarray(pts, float)))
    return out


class AdjudicationBinding:
    """Shows one timepoint of a packet: the image and both reads' lines, read-only.

    Parameters
    ----------
    viewer : napari.components.ViewerModel
    images : DicomFolderSource
        The trial's images (the packet names each timepoint's study and series).

    Signals
    -------
    message(str, bool)
        A text for the adjudicator and whether it is an error.
    """

    message = Signal(str, bool)

    def __init__(self, viewer: Any, images: DicomFolderSource) -> None:
        self.viewer = viewer
        self.images = images
        self.image_layer: Any | None = None
        self.line_layers: dict[str, Any] = {}
        self.view: VolumeView | None = None
        self.shown: tuple[str, str] | None = None  # (subject, timepoint label)
        self._lines: dict[str, list[tuple[str, str, float, np.ndarray]]] = {}
        self._syncing = False

    # ------------------------------------------------------------------ loading (any thread)
    def load_volume(self, packet: Mapping[str, Any], label: str) -> Volume:
        """The image read A measured ``label`` on (read B's when A names none). Slow: decode
        off the GUI thread."""
        subject = str(packet["subject"])
        for letter in ("A", "B"):
            tp = _timepoint(packet, letter, label)
            study, series = tp.get("study_uid"), tp.get("series_uid")
            if not study or not series:
                continue
            found = [s for s in self.images.study_series(subject, study) if s.series_uid == series]
            if found:
                return self.images.load(found[0])
        raise SeriesSelectionError(
            f"{subject}/{label}: the series the reads were measured on is not in "
            f"{self.images.root}; check the image folder."
        )

    # ------------------------------------------------------------------ showing (GUI thread)
    def show(self, packet: Mapping[str, Any], label: str, volume: Volume) -> None:
        """Show ``volume`` with both reads' lines of timepoint ``label``."""
        subject = str(packet["subject"])
        self.view = VolumeView.of(volume)
        tp = _timepoint(packet, "A", label)
        info = _SeriesLike(str(tp.get("series_uid") or ""), "arterial", "")
        data, kwargs, _ = to_layer_data(subject, info, self.view, find_window("Liver"), loaded=True)
        kwargs["name"] = f"{subject}/{label} adjudication"
        self.image_layer = place_image(self.viewer, self.image_layer, data, kwargs)
        self.viewer.dims.axis_labels = kwargs["axis_labels"]
        self.viewer.dims.ndisplay = 2
        self._lines = {
            letter: _read_lines(_timepoint(packet, letter, label)) for letter in ("A", "B")
        }
        for letter in ("A", "B"):
            lay = self.line_layers.get(letter)
            if lay is None or lay not in self.viewer.layers:
                lay = self.viewer.add_shapes(
                    ndim=3,
                    name=f"Read {letter} lines",
                    edge_color=READ_COLOURS[letter],
                    face_color="transparent",
                    **self.view.layer_kwargs(),
                )
                lay.events.data.connect(lambda event, k=letter: self._on_edit(k, event))
                self.line_layers[letter] = lay
            else:
                self._syncing = True
                try:
                    lay.affine = self.view.layer_kwargs()["affine"]
                finally:
                    self._syncing = False
        self.redraw()
        self.shown = (subject, label)
        self.viewer.reset_view()
        self.jump_to_first_line()

    def redraw(self) -> None:
        """Draw both reads' lines from the packet (read-only: the packet is the truth)."""
        if self.view is None:
            return
        self._syncing = True
        try:
            for letter, layer in self.line_layers.items():
                lines = self._lines.get(letter, [])
                with refresh_once(layer):
                    layer.data = []
                    if lines:
                        world = [self.view.patient_to_world(pts) for *_, pts in lines]
                        layer.add_lines(
                            [np.array([layer.world_to_data(w) for w in pts]) for pts in world],
                            edge_color=READ_COLOURS[letter],
                            edge_width=[w for _, _, w, _ in lines],
                        )
                    layer.features = {
                        "lesion": np.array([lab for lab, *_ in lines], dtype=object),
                        "kind": np.array([k for _, k, *_ in lines], dtype=object),
                        "read": np.array([letter] * len(lines), dtype=object),
                    }
                    if lines:
                        layer.text = {
                            "string": "{read} {lesion}",
                            "color": READ_COLOURS[letter],
                            "size": 9,
                            "anchor": "upper_left" if letter == "A" else "lower_right",
                        }
        finally:
            self._syncing = False

    def line_points(self, letter: str) -> list[tuple[str, str, np.ndarray]]:
        """(lesion, kind, 2x3 LPS points) of the lines of read ``letter`` as shown now
        (converted back from the layer: layer data -> world -> patient, through the adapter)."""
        layer, view = self.line_layers.get(letter), self.view
        if layer is None or view is None:
            return []
        out = []
        for i, vertices in enumerate(layer.data):
            world = np.array([layer.data_to_world(v) for v in vertices])
            out.append(
                (
                    str(layer.features["lesion"][i]),
                    str(layer.features["kind"][i]),
                    view.world_to_patient(world),
                )
            )
        return out

    def jump_to_first_line(self) -> float | None:
        """Show the slice of read A's first line (else read B's); None when neither has one."""
        if self.view is None:
            return None
        for letter in ("A", "B"):
            lines = self._lines.get(letter) or []
            if lines:
                world = self.view.patient_to_world(lines[0][3]).mean(axis=0)
                self.viewer.dims.set_point(0, float(world[0]))
                return float(world[0])
        self.viewer.dims.set_point(0, self.view.middle_slice_world())
        return None

    def clear(self) -> None:
        """Remove the layers this binding added."""
        for layer in (self.image_layer, *self.line_layers.values()):
            if layer is not None and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        self.image_layer, self.line_layers, self.view, self.shown = None, {}, None, None

    def _on_edit(self, letter: str, event: Any) -> None:
        if self._syncing or str(getattr(event, "action", "")) not in (
            "added",
            "changed",
            "removed",
        ):
            return
        self.redraw()
        self.message.emit(
            f"read {letter} is signed: its lines cannot change here (the adjudicator endorses "
            "a read, never edits it)",
            True,
        )

    def centre_on(self, points_lps: Sequence[Sequence[float]]) -> None:
        """Centre the camera on the middle of some LPS points (and show their slice)."""
        if self.view is None:
            return
        world = self.view.patient_to_world(np.asarray(points_lps, float)).mean(axis=0)
        self.viewer.dims.set_point(0, float(world[0]))
        camera(self.viewer).center = (float(world[1]), float(world[2]))


@dataclass(frozen=True)
class _SeriesLike:
    """The few series facts the layer builder needs (the packet has no SeriesInfo)."""

    series_uid: str
    phase: str
    description: str
    modality: str = "CT"
