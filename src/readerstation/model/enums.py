"""Closed sets of the reading domain that the response engine does not already define.

The criteria's own words (:class:`~readerstation.criteria.enums.Response`,
:class:`~readerstation.criteria.enums.NonTargetStatus`,
:class:`~readerstation.criteria.enums.NewLesionCall`,
:class:`~readerstation.criteria.enums.DiameterCall`,
:class:`~readerstation.criteria.enums.LesionKind`) live in :mod:`readerstation.criteria.enums`
and are re-exported by :mod:`readerstation.model`; they are not defined twice.
"""

from __future__ import annotations

from enum import StrEnum

from readerstation.criteria.enums import DiameterCall

__all__ = ["LesionRole", "LiverSegment", "MeasurementState", "ReadStatus", "UserRole"]


class LesionRole(StrEnum):
    """The role of a lesion in a read (RECIST 1.1 sections 3.3 and 4.3)."""

    TARGET = "target"
    NON_TARGET = "non_target"
    NEW = "new"


class MeasurementState(StrEnum):
    """What a measurement of a target or new lesion says (RECIST 1.1 appendix I).

    The words are those of the reads JSON format (``state``). ``TOO_SMALL`` and ``ABSENT`` map
    to the engine's :class:`~readerstation.criteria.enums.DiameterCall`; ``MEASURED`` carries
    numbers; ``NOT_EVALUATED`` is a lesion that could not be assessed (the engine's ``None``).
    """

    MEASURED = "measured"
    TOO_SMALL = "too_small"
    """Present but too small to measure (counts as the criteria's ``too_small_mm``)."""
    ABSENT = "absent"
    """Disappeared (mRECIST: no arterial enhancement left)."""
    NOT_EVALUATED = "not_evaluated"
    """Not evaluable (artefact, not in the field of view, scan missing)."""

    def to_diameter_call(self) -> DiameterCall | None:
        """The engine's word for this state, or None for ``MEASURED`` and ``NOT_EVALUATED``."""
        if self is MeasurementState.TOO_SMALL:
            return DiameterCall.TOO_SMALL
        if self is MeasurementState.ABSENT:
            return DiameterCall.ABSENT
        return None


class LiverSegment(StrEnum):
    """Couinaud liver segment, in Roman numerals (I caudate lobe ... VIII)."""

    I = "I"  # noqa: E741 - the anatomical name
    II = "II"
    III = "III"
    IV = "IV"
    V = "V"
    VI = "VI"
    VII = "VII"
    VIII = "VIII"


class ReadStatus(StrEnum):
    """Life cycle of a timepoint read: a draft is autosaved; a signed read never changes."""

    DRAFT = "draft"
    SIGNED = "signed"


class UserRole(StrEnum):
    """What a user of the store may do."""

    READER = "reader"
    """Reads their own assigned timepoints; sees nothing of other readers."""
    ADJUDICATOR = "adjudicator"
    """Sees blinded packets ("Read A"/"Read B") of discrepant subjects and endorses one."""
    ADMIN = "admin"
    """Manages users, assignments, imports and exports; sees every read and the audit trail."""
