"""Closed sets of the response criteria, spelled as RECIST 1.1 and mRECIST spell them.

Every enum accepts its standard word at the boundary (``Response("NON-CR/NON-PD")``,
``NonTargetStatus("unequivocal_progression")``); code uses the members.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DiameterCall",
    "LesionKind",
    "NewLesionCall",
    "NonTargetStatus",
    "Response",
]


class Response(StrEnum):
    """A response category (RECIST 1.1 Tables 1-3; mRECIST uses the same words).

    ``NON_CR_NON_PD`` is the non-target (and non-target-only overall) category of RECIST 1.1
    Table 2; mRECIST's non-target "incomplete response / stable disease" is reported as it.
    """

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NE = "NE"
    NON_CR_NON_PD = "NON-CR/NON-PD"


class DiameterCall(StrEnum):
    """A target diameter that is not a number (RECIST 1.1 appendix I, "too small to measure")."""

    TOO_SMALL = "too_small"
    """Present but too small to measure: counts as the criteria's ``too_small_mm`` (5 mm)."""
    ABSENT = "absent"
    """Disappeared (mRECIST: no arterial enhancement left): counts 0 mm."""


class NonTargetStatus(StrEnum):
    """Status of one non-target lesion at one assessment (RECIST 1.1 section 4.3.2)."""

    PRESENT = "present"
    ABSENT = "absent"
    UNEQUIVOCAL_PROGRESSION = "unequivocal_progression"
    NOT_EVALUATED = "not_evaluated"


class NewLesionCall(StrEnum):
    """Whether new lesions were seen (RECIST 1.1 section 4.3.3)."""

    NONE = "none"
    EQUIVOCAL = "equivocal"
    """Possibly new: not PD yet; PD if a later assessment confirms it (dated back to this one)."""
    UNEQUIVOCAL = "unequivocal"


class LesionKind(StrEnum):
    """What a non-target or new lesion is (mRECIST section on special findings)."""

    LESION = "lesion"
    PORTAL_VEIN_THROMBOSIS = "portal_vein_thrombosis"
    """Malignant portal vein thrombosis: non-measurable, a non-target lesion (mRECIST)."""
    EFFUSION = "effusion"
    """Pleural effusion or ascites: PD only with cytological proof of malignancy (mRECIST)."""
