"""DICOM core: index folders by headers, infer contrast phase, load one series into a Volume.

>>> from readerstation.dicom import index_folder, load_series  # doctest: +SKIP
>>> idx = index_folder("study/")                                # doctest: +SKIP
>>> vol = load_series(idx.image_series()[0])                    # doctest: +SKIP
"""

from readerstation.dicom.headers import FileHeader, FrameHeader, read_file_header
from readerstation.dicom.index import FolderIndex, SeriesInfo, index_folder, propose_arterial
from readerstation.dicom.load import (
    GeometryCriteria,
    SeriesPlan,
    SliceSource,
    derive_decoding_plugin,
    load_series,
    load_stored_pixels,
    plan_series,
    rescale_into,
    select_series,
)
from readerstation.dicom.phase import (
    Phase,
    PhaseCriteria,
    PhaseEvidence,
    compute_phase_from_description,
    compute_phase_from_timing,
    derive_study_phases,
    parse_dicom_time,
)
from readerstation.dicom.seg import SegmentationMasks, load_segmentation

__all__ = [
    "FileHeader",
    "FolderIndex",
    "FrameHeader",
    "GeometryCriteria",
    "Phase",
    "PhaseCriteria",
    "PhaseEvidence",
    "SegmentationMasks",
    "SeriesInfo",
    "SeriesPlan",
    "SliceSource",
    "compute_phase_from_description",
    "compute_phase_from_timing",
    "derive_decoding_plugin",
    "derive_study_phases",
    "index_folder",
    "load_segmentation",
    "load_series",
    "load_stored_pixels",
    "parse_dicom_time",
    "plan_series",
    "propose_arterial",
    "read_file_header",
    "rescale_into",
    "select_series",
]
