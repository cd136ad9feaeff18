"""The JSON keys the issues fix for the CLI (trial systems script against them).

Written out here, from the issue texts, not imported from the code under test.
"""

from __future__ import annotations

INDEX_KEYS = frozenset(
    {
        "series_uid",
        "study_uid",
        "modality",
        "description",
        "phase",
        "n_images",
        "rows",
        "columns",
        "pixel_spacing_mm",
        "slice_thickness_mm",
        "files",
    }
)
"""Keys of each series object of ``readerstation index PATH --json``."""

INFO_KEYS = frozenset(
    {
        "series_uid",
        "shape",
        "spacing_mm",
        "origin_lps_mm",
        "direction",
        "hu_min",
        "hu_max",
        "warnings",
    }
)
"""Keys of ``readerstation info PATH --series UID --json``."""
