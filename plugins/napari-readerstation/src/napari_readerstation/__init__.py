"""napari plugin of readerstation: DICOM reader, Reading dock, and the napari <-> patient adapter.

The public, scriptable objects (no Qt):

* :class:`ReadingController` - the reading session (folder, series, Volume, window);
* :class:`ViewerBinding` - keeps a napari viewer's layer in step with a controller;
* :class:`VolumeView` / :func:`from_layer` - napari <-> patient (LPS mm) coordinates;
* :class:`WindowPreset` / :data:`STANDARD_WINDOWS` - CT display windows.
"""

__version__ = "0.1.0"

from napari_readerstation._adapter import VolumeView, derive_layer_geometry, from_layer
from napari_readerstation._binding import SeriesRecord, ViewerBinding
from napari_readerstation._controller import OpenSeries, ReadingController, StudyEntry
from napari_readerstation._windows import STANDARD_WINDOWS, WindowPreset

__all__ = [
    "STANDARD_WINDOWS",
    "OpenSeries",
    "ReadingController",
    "SeriesRecord",
    "StudyEntry",
    "ViewerBinding",
    "VolumeView",
    "WindowPreset",
    "__version__",
    "derive_layer_geometry",
    "from_layer",
]
