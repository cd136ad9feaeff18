"""napari plugin of readerstation."""

__version__ = "0.1.0"
