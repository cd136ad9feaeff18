"""Where a reading session finds its images: a root folder of DICOM files, indexed by headers.

The folder of a subject is found by its trial code (a directory named ``HCC-001`` anywhere up to
three levels below the root, as in ``sample_dicom/``); only that folder is indexed. When no such
directory exists the whole root is indexed once. Indexes and the last loaded volumes are cached,
so reopening a case does not read the headers again.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

from readerstation.dicom.index import FolderIndex, SeriesInfo, index_folder, propose_arterial
from readerstation.dicom.load import load_series
from readerstation.errors import DicomError, SeriesSelectionError
from readerstation.geometry import Volume

__all__ = ["DicomFolderSource"]

_MAX_DEPTH = 3


class DicomFolderSource:
    """DICOM images under one root folder, looked up by subject code and StudyInstanceUID.

    Parameters
    ----------
    root : path-like
        Folder holding the trial's DICOM files (``sample_dicom/``).
    max_volumes : int
        How many loaded volumes to keep in memory (default 2: the current and the prior
        timepoint).

    Raises
    ------
    DicomError
        When ``root`` is not a folder.
    """

    def __init__(self, root: str | os.PathLike[str], *, max_volumes: int = 2) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DicomError(
                f"image source: {self.root} is not a folder; pass the folder that holds the "
                "trial's DICOM files (for the sample trial, sample_dicom/)."
            )
        if max_volumes < 1:
            raise DicomError(f"image source: max_volumes must be >= 1, received {max_volumes}.")
        self._max_volumes = max_volumes
        self._indexes: dict[Path, FolderIndex] = {}
        self._volumes: OrderedDict[str, Volume] = OrderedDict()

    def __repr__(self) -> str:
        return (
            f"DicomFolderSource(root={str(self.root)!r}, indexed_folders={len(self._indexes)}, "
            f"volumes_cached={len(self._volumes)})"
        )

    def subject_folder(self, subject_code: str) -> Path:
        """The directory named ``subject_code`` under the root (breadth first), else the root."""
        level = [self.root]
        for _ in range(_MAX_DEPTH):
            nxt: list[Path] = []
            for folder in level:
                try:
                    children = sorted(p for p in folder.iterdir() if p.is_dir())
                except OSError:
                    continue
                for child in children:
                    if child.name == subject_code:
                        return child
                    if not child.name.startswith("."):
                        nxt.append(child)
            level = nxt
        return self.root

    def index(self, folder: Path) -> FolderIndex:
        """The (cached) header index of ``folder``."""
        if folder not in self._indexes:
            self._indexes[folder] = index_folder(folder)
        return self._indexes[folder]

    def study_series(self, subject_code: str, study_uid: str) -> tuple[SeriesInfo, ...]:
        """The image series of one study of a subject.

        Raises
        ------
        SeriesSelectionError
            When the folder holds no image series of that study.
        """
        folder = self.subject_folder(subject_code)
        found = tuple(s for s in self.index(folder).image_series() if s.study_uid == study_uid)
        if not found:
            raise SeriesSelectionError(
                f"subject {subject_code}: no image series of study {study_uid} under {folder}; "
                "check that the study's DICOM files are in the image folder (for the sample "
                "trial run `readerstation sample generate --out sample_dicom`)."
            )
        return found

    def propose_series(self, series: tuple[SeriesInfo, ...]) -> SeriesInfo:
        """The arterial series proposed among ``series`` (the only series when there is one).

        Raises
        ------
        SeriesSelectionError
            Several series and no clear arterial phase: the reader must choose by UID.
        """
        if len(series) == 1:
            return series[0]
        proposed = propose_arterial(series)
        if proposed is None:
            listing = "; ".join(
                f"{s.series_uid} ({s.description!r}, {s.phase.value})" for s in series
            )
            raise SeriesSelectionError(
                f"{len(series)} image series and no clear arterial phase; choose one by "
                f"SeriesInstanceUID: {listing}"
            )
        return proposed

    def load(self, series: SeriesInfo) -> Volume:
        """The volume of ``series`` (HU), from the cache when it was loaded recently."""
        uid = series.series_uid
        if uid in self._volumes:
            self._volumes.move_to_end(uid)
            return self._volumes[uid]
        volume = load_series(series)
        self._volumes[uid] = volume
        while len(self._volumes) > self._max_volumes:
            self._volumes.popitem(last=False)
        return volume
