"""readerstation: the headless core of a reading workstation for liver-cancer trials.

The core never imports napari or Qt; the viewer lives in the ``napari-readerstation`` plugin.
"""

__version__ = "0.1.0"
