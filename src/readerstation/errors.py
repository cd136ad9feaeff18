"""The exceptions readerstation raises, in one place.

Every message names what was wrong, what was expected, what was received and what to do.
Callers that show errors to a user (the CLI, the napari plugin) catch :class:`ReaderstationError`
and print its message, never a traceback.
"""

from __future__ import annotations


class ReaderstationError(Exception):
    """Base class of every error readerstation raises on purpose."""


class DicomError(ReaderstationError, ValueError):
    """A DICOM file or series cannot be used as asked (corrupt, incomplete, inconsistent)."""


class SeriesSelectionError(DicomError):
    """The series to load is ambiguous or absent (several series, unknown SeriesInstanceUID)."""


class LoadCancelled(ReaderstationError):
    """Loading a series was stopped on request (a progress callback returned False)."""


class GeometryError(ReaderstationError, ValueError):
    """Geometry that cannot be handled correctly (points off the volume, inconsistent frames)."""


class MeasurementError(ReaderstationError, ValueError):
    """A measurement that cannot be made (zero length, off the image, on another series)."""


class CriteriaError(ReaderstationError, ValueError):
    """Input that the response criteria cannot evaluate (impossible lesion set, bad field)."""


class SampleDataError(ReaderstationError, ValueError):
    """The synthetic sample trial cannot be designed or written as asked (bad design, bad folder)."""


class ModelError(ReaderstationError, ValueError):
    """A domain object (subject, timepoint, lesion, measurement, read) that cannot be valid."""


class StoreError(ReaderstationError):
    """The store cannot do what was asked (bad URL, unknown read, a database it cannot open)."""


class AuthenticationError(StoreError, PermissionError):
    """Unknown user or wrong password (the message never says which of the two)."""


class AccessDenied(ReaderstationError, PermissionError):
    """The acting user may not see or do this (role or blinding); the refusal is audited."""


class ReadLockedError(StoreError):
    """A write to a signed (immutable) read; amend it to make a new version instead."""


class ConcurrentEditError(StoreError):
    """Someone else changed this record since it was loaded; reload it and apply the change again."""


class ReadingError(ReaderstationError, ValueError):
    """A reading gesture that cannot be done now (no read open, no such lesion, baseline unsigned)."""


class PacsError(ReaderstationError, OSError):
    """A DICOMweb PACS cannot be reached or refused a request (down, wrong URL, 4xx/5xx, timeout).

    Series already retrieved into the local cache still load; the message names the URL and what
    to do.
    """


class ExportError(ReaderstationError, ValueError):
    """An export or import (DICOM SR, CSV, JSON, SDTM) that cannot be written or read as asked."""
