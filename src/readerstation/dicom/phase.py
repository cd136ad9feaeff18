"""Contrast phase of a series, inferred from its headers.

Three sources of evidence, in order of trust:

1. **words** in SeriesDescription (``ART``, ``arterial``, ``late arterial``, ``PV``, ``portal``,
   ``venous``, ``delay``, ``equilibrium``, ``pre``, ``non-contrast``, ...);
2. **timing**: seconds from ContrastBolusStartTime to the series' first AcquisitionTime, compared
   with the windows of :class:`PhaseCriteria`;
3. **acquisition order** within a study: when several contrast-enhanced acquisitions of one study
   are still unknown, the first is arterial, the second portal venous, the third delayed.

A series without ContrastBolusAgent in a study where other series have one is non-contrast.
Anything else stays :attr:`Phase.UNKNOWN`: the reader chooses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from readerstation.errors import DicomError

__all__ = [
    "Phase",
    "PhaseCriteria",
    "PhaseEvidence",
    "compute_phase_from_description",
    "compute_phase_from_timing",
    "derive_study_phases",
    "parse_dicom_time",
]


class Phase(StrEnum):
    """Contrast phase of an image series (words used in liver imaging: LI-RADS, mRECIST)."""

    ARTERIAL = "arterial"
    PORTAL_VENOUS = "portal_venous"
    DELAYED = "delayed"
    NON_CONTRAST = "non_contrast"
    UNKNOWN = "unknown"


# Word patterns, checked in this order (the first match wins, so "late arterial" is arterial
# before "late" could make it delayed, and "portal venous" is portal before "venous").
_DEFAULT_WORDS: tuple[tuple[Phase, str], ...] = (
    (
        Phase.NON_CONTRAST,
        r"non[\s\-_]?contrast|non[\s\-_]?con\b|w/?o[\s\-_]?(contrast|con)\b|"
        r"without[\s\-_]contrast|unenhanced|un[\s\-_]enhanced|\bnative\b|\bplain\b|\bpre\b|"
        r"\bpre[\s\-_]?(contrast|con|gad|gd)\b|\bprecontrast\b|\bnc\b|\bnect\b",
    ),
    (Phase.ARTERIAL, r"arterial|arteriell|\bart\b|\blap\b|\bhap\b|\beap\b|\bcta\b|\barter"),
    (Phase.PORTAL_VENOUS, r"portal|\bpv\b|\bpvp\b|\bvenous\b|\bvenoes|\bven\b|\bpp\b"),
    (
        Phase.DELAYED,
        r"delay|equilibrium|\beq\b|transitional|\blate\b|\bhbp\b|hepatobiliary|"
        r"\b\d+\s?min",
    ),
)


@dataclass(frozen=True)
class PhaseCriteria:
    """Explicit thresholds and word lists for contrast phase inference.

    Parameters
    ----------
    arterial_max_s : float, seconds
        A series acquired less than this many seconds after ContrastBolusStartTime is arterial.
    portal_venous_max_s : float, seconds
        From ``arterial_max_s`` up to this delay the series is portal venous; later ones are
        delayed. Typical liver protocols: late arterial 35-45 s, portal venous 60-90 s,
        delayed (equilibrium) 3-5 min.
    same_acquisition_s : float, seconds
        Series of one study whose first acquisition times differ by at most this are treated as
        reconstructions of one acquisition when ordering acquisitions.
    words : tuple of (Phase, regex)
        Case-insensitive patterns searched in SeriesDescription, first match wins.
    """

    arterial_max_s: float = 50.0
    portal_venous_max_s: float = 120.0
    same_acquisition_s: float = 10.0
    words: tuple[tuple[Phase, str], ...] = field(default=_DEFAULT_WORDS)

    def __post_init__(self) -> None:
        if not 0 < self.arterial_max_s < self.portal_venous_max_s:
            raise DicomError(
                "PhaseCriteria needs 0 < arterial_max_s < portal_venous_max_s (seconds); received "
                f"{self.arterial_max_s} and {self.portal_venous_max_s}"
            )
        if self.same_acquisition_s < 0:
            raise DicomError(
                f"PhaseCriteria.same_acquisition_s must be >= 0 s; got {self.same_acquisition_s}"
            )
        for phase, pattern in self.words:
            Phase(phase)
            try:
                re.compile(pattern)
            except re.error as exc:
                raise DicomError(f"PhaseCriteria.words: bad pattern {pattern!r} ({exc})") from exc


@dataclass(frozen=True)
class PhaseEvidence:
    """What the headers of one series say about its phase (input of :func:`derive_study_phases`).

    Parameters
    ----------
    key : str
        Any identifier unique within the call (a SeriesInstanceUID).
    study_uid : str
        Series of the same study are ordered together.
    description : str
        SeriesDescription.
    contrast_agent : str or None
        ContrastBolusAgent; None or empty when absent.
    bolus_start_s, acquisition_s : float or None, seconds after midnight
        ContrastBolusStartTime and the earliest AcquisitionTime of the series.
    is_image : bool
        Non-image series (SR, SEG, ...) always get :attr:`Phase.UNKNOWN` and are not ordered.
    """

    key: str
    study_uid: str
    description: str
    contrast_agent: str | None
    bolus_start_s: float | None
    acquisition_s: float | None
    is_image: bool = True


def parse_dicom_time(value: object) -> float | None:
    """Seconds after midnight of a DICOM TM value (``HHMMSS.FFFFFF``, ``HH:MM:SS`` accepted).

    Returns None for empty or malformed values (never raises).

    Examples
    --------
    >>> parse_dicom_time("140352.457")
    50632.457
    >>> parse_dicom_time("")
    """
    if value is None:
        return None
    text = str(value).strip().replace(":", "")
    if not text:
        return None
    match = re.fullmatch(r"(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?", text)
    if match is None:
        return None
    hours = int(match.group(1))
    minutes = int(match.group(2) or 0)
    seconds = int(match.group(3) or 0)
    frac = float(match.group(4) or 0.0)
    if hours > 23 or minutes > 59 or seconds > 60:
        return None
    return hours * 3600 + minutes * 60 + seconds + frac


def compute_phase_from_description(
    description: str, criteria: PhaseCriteria | None = None
) -> Phase:
    """Phase named by words in a SeriesDescription, or :attr:`Phase.UNKNOWN`.

    Examples
    --------
    >>> compute_phase_from_description("Liver LATE ARTERIAL 2.5mm").value
    'arterial'
    >>> compute_phase_from_description("ABD PV 5.0 B30f").value
    'portal_venous'
    >>> compute_phase_from_description("Pre-contrast").value
    'non_contrast'
    >>> compute_phase_from_description("CT Body 3.0").value
    'unknown'
    """
    crit = criteria or PhaseCriteria()
    text = (description or "").lower().replace("_", " ")
    for phase, pattern in crit.words:
        if re.search(pattern, text, flags=re.IGNORECASE):
            return Phase(phase)
    return Phase.UNKNOWN


def compute_phase_from_timing(
    bolus_start_s: float | None, acquisition_s: float | None, criteria: PhaseCriteria | None = None
) -> Phase:
    """Phase from the delay between bolus start and acquisition (seconds after midnight).

    A negative delay (acquired before the bolus) is non-contrast; a missing time gives UNKNOWN.
    Delays across midnight are handled by adding 24 h when the difference is below -12 h.

    Examples
    --------
    >>> compute_phase_from_timing(50536.694, 50632.457).value   # 95.8 s after the bolus
    'portal_venous'
    >>> compute_phase_from_timing(100.0, 135.0).value
    'arterial'
    """
    crit = criteria or PhaseCriteria()
    if bolus_start_s is None or acquisition_s is None:
        return Phase.UNKNOWN
    delay = acquisition_s - bolus_start_s
    if delay < -12 * 3600:
        delay += 24 * 3600
    if delay < 0:
        return Phase.NON_CONTRAST
    if delay < crit.arterial_max_s:
        return Phase.ARTERIAL
    if delay < crit.portal_venous_max_s:
        return Phase.PORTAL_VENOUS
    return Phase.DELAYED


def _has_agent(agent: str | None) -> bool:
    text = (agent or "").strip().lower()
    return bool(text) and text not in {"none", "no", "n/a", "na", "no contrast", "0"}


def derive_study_phases(
    series: Sequence[PhaseEvidence], criteria: PhaseCriteria | None = None
) -> dict[str, tuple[Phase, str]]:
    """Phase of every series, using words, timing and the acquisition order within each study.

    Parameters
    ----------
    series : sequence of PhaseEvidence
        Every series of one or more studies.
    criteria : PhaseCriteria, optional
        Thresholds and words; defaults to ``PhaseCriteria()``.

    Returns
    -------
    dict
        ``key -> (phase, reason)`` where ``reason`` says which evidence decided it.
    """
    crit = criteria or PhaseCriteria()
    result: dict[str, tuple[Phase, str]] = {}
    for ev in series:
        if not ev.is_image:
            result[ev.key] = (Phase.UNKNOWN, "not an image series")
            continue
        by_words = compute_phase_from_description(ev.description, crit)
        if by_words is not Phase.UNKNOWN:
            result[ev.key] = (by_words, f"SeriesDescription {ev.description!r}")
            continue
        if _has_agent(ev.contrast_agent):
            by_time = compute_phase_from_timing(ev.bolus_start_s, ev.acquisition_s, crit)
            if by_time is not Phase.UNKNOWN:
                delay = (ev.acquisition_s or 0.0) - (ev.bolus_start_s or 0.0)
                result[ev.key] = (by_time, f"acquired {delay:.1f} s after ContrastBolusStartTime")
                continue
        result[ev.key] = (Phase.UNKNOWN, "no phase words, no bolus timing")

    studies: dict[str, list[PhaseEvidence]] = {}
    for ev in series:
        if ev.is_image:
            studies.setdefault(ev.study_uid, []).append(ev)
    for members in studies.values():
        with_agent = [ev for ev in members if _has_agent(ev.contrast_agent)]
        if not with_agent:
            continue
        # Series without an agent in a study that has contrast series: non-contrast.
        for ev in members:
            if not _has_agent(ev.contrast_agent) and result[ev.key][0] is Phase.UNKNOWN:
                result[ev.key] = (
                    Phase.NON_CONTRAST,
                    "no ContrastBolusAgent while other series of the study have one",
                )
        unknown = [ev for ev in with_agent if result[ev.key][0] is Phase.UNKNOWN]
        if not unknown or len(unknown) != len(with_agent):
            continue  # order only when no contrast series of the study is otherwise known
        if any(ev.acquisition_s is None for ev in unknown):
            continue
        ordered = sorted(unknown, key=lambda ev: ev.acquisition_s or 0.0)
        clusters: list[list[PhaseEvidence]] = []
        for ev in ordered:
            if clusters and (ev.acquisition_s or 0.0) - (clusters[-1][0].acquisition_s or 0.0) <= (
                crit.same_acquisition_s
            ):
                clusters[-1].append(ev)
            else:
                clusters.append([ev])
        if not 2 <= len(clusters) <= 3:
            continue
        names = (Phase.ARTERIAL, Phase.PORTAL_VENOUS, Phase.DELAYED)
        for rank, cluster in enumerate(clusters):
            for ev in cluster:
                result[ev.key] = (
                    names[rank],
                    f"contrast acquisition {rank + 1} of {len(clusters)} in the study "
                    "(by AcquisitionTime)",
                )
    return result
