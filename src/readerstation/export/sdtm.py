"""CDISC SDTM TU, TR and RS from the signed reads of a dual-read trial (RECIST 1.1 and mRECIST).

What is written
---------------
Every reader's signed reads are exported, each with its evaluator: ``--EVAL`` =
``INDEPENDENT ASSESSOR``, ``--EVALID`` = ``RADIOLOGIST 1`` / ``RADIOLOGIST 2`` (the reader's slot;
never the reader's name), and ``--ACPTFL`` = ``Y`` on the rows of the accepted read (the read
the adjudicator endorsed, else the charter's default reader), left empty on the others.

* **TU** (tumour identification): one ``TUMIDENT`` row per lesion and reader at the timepoint it
  is first recorded (the baseline for targets and non-targets); ``TUORRES`` ``TARGET`` /
  ``NON-TARGET`` / ``NEW`` (codelist TUIDRS); ``TULNKID`` ``R1-T01``, ``R1-NT01``, ``R1-NEW01``
  (the reader's slot as prefix, as in the pharmaverse multi-reader example, so that the link is
  unique within the subject); ``TULOC`` from codelist LOC: the Couinaud segment term for liver
  lesions (``LIVER, RIGHT LOBE POSTEROSUPERIOR SEGMENT`` for segment VII), ``PORTAL VEIN`` for a
  portal vein thrombosis, the organ otherwise. Lesion identification serves both criteria, so
  ``TUACPTFL`` = ``Y`` when the read is accepted for *any* criteria.
* **TR** (tumour results): per reader, criteria and timepoint, the values that criteria use,
  grouped by ``TRGRPID`` = the criteria's RSCAT term (``RECIST 1.1`` or ``MRECIST LENCIONI LIVER
  CANCER 2010``), so that ``TRACPTFL`` follows the read accepted for that criteria exactly:
  ``LDIAM`` (long axis), ``LPERP`` (short axis of lymph nodes), ``VDIAM`` (viable diameter,
  C96646: mRECIST's intrahepatic targets), ``TUMSTATE`` for non-targets (``PRESENT``,
  ``ABSENT``, ``UNEQUIVOCAL``, ``NE``; codelist TRPROPRS) and new lesions (``PRESENT`` or
  ``EQUIVOCAL``), and the sum of target diameters: ``SUMDIAM`` for RECIST 1.1 and ``SUMVDIAM``
  (Sum of Viable Diameter, C96634) for mRECIST (whose sum takes the RECIST diameter of
  extrahepatic targets, as mRECIST prescribes). A target not evaluated has ``TRSTAT`` =
  ``NOT DONE`` and ``TRREASND``; a target "too small to measure" has ``TRORRES`` = ``TOO SMALL
  TO MEASURE`` and the criteria's default (5 mm) in ``TRSTRESN``; a disappeared one 0 mm.
  ``TRLNKGRP`` (``R1-RECIST-V2``) ties the rows to the RS records they led to.
* **RS** (response): per reader, criteria and follow-up timepoint ``TRGRESP``, ``NTRGRESP``
  (when the subject has such lesions), ``NEWLPROG`` (only when new lesions were called:
  ``UNEQUIVOCAL`` or ``EQUIVOCAL``, the terms the pharmaverse example uses; the criteria's
  effective call, so an mRECIST new lesion that does not qualify gives no row) and ``OVRLRESP``;
  then one ``BESTRESP`` (confirmed best overall response) per reader and criteria when there is a
  follow-up. ``RSCAT`` is ``RECIST 1.1`` or ``MRECIST LENCIONI LIVER CANCER 2010`` (codelist
  ONCRSCAT). Results come from the response engine
  (:func:`readerstation.model.timeline.to_subject_timeline`,
  :func:`readerstation.engine.derive_subject_response`).

Keys and dates: ``USUBJID`` = ``STUDYID-SUBJECT``; ``--SEQ`` numbers each subject's rows from 1;
``VISITNUM`` numbers the subject's timepoints (of both readers) by scan date from 1 (the
baseline); ``VISIT`` is the timepoint label (``TP0``...); ``--DTC`` the ISO 8601 scan date;
``--DY`` the study day from the treatment start when it is known (empty otherwise).

Partial trials export what they have: a subject with only a baseline gets TU and TR rows and no
RS; a read the engine refuses (an impossible lesion set) keeps its TU/TR rows, gets no RS rows for
that criteria, and the reason is in :attr:`SdtmDatasets.notes`. :func:`save_sdtm` checks every
row (:func:`check_sdtm_structure`, :func:`check_sdtm_terms`) and writes nothing when one fails;
the ``.xpt`` files come from :func:`readerstation.export.sdtm_xpt.save_xpt_v5` (SAS transport
version 5). :func:`export_from_repository` is ``readerstation export --format sdtm``.

Examples
--------
>>> ds = derive_sdtm([], study_id="HCC-301")
>>> list(ds.tu.columns[:4]), len(ds.tu)
(['STUDYID', 'DOMAIN', 'USUBJID', 'TUSEQ'], 0)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from readerstation.criteria.enums import NewLesionCall, NonTargetStatus, Response
from readerstation.criteria.organs import normalise_organ, uses_viable_diameter
from readerstation.criteria.params import ResponseCriteria, criteria_from_name
from readerstation.engine import SubjectResult, derive_subject_response
from readerstation.errors import CriteriaError, ExportError, ModelError
from readerstation.export.sdtm_terms import Codelist, load_sdtm_codelists
from readerstation.export.sdtm_xpt import save_xpt_v5
from readerstation.model.entities import LesionAssessment, TimepointRead
from readerstation.model.enums import LesionRole, LiverSegment, MeasurementState
from readerstation.model.timeline import to_subject_timeline

__all__ = [
    "CRITERIA",
    "RSCAT",
    "SDTM_VARIABLES",
    "SdtmDatasets",
    "SdtmExportError",
    "SdtmFinding",
    "SdtmMethod",
    "SdtmRead",
    "SdtmVariable",
    "check_sdtm_structure",
    "check_sdtm_terms",
    "derive_define",
    "derive_sdtm",
    "derive_sdtm_reads",
    "export_from_repository",
    "save_sdtm",
]

CRITERIA: tuple[str, ...] = ("recist1.1", "mrecist")
"""The criteria exported, by :func:`~readerstation.criteria.params.criteria_from_name` name."""

RSCAT: Mapping[str, str] = {
    "recist1.1": "RECIST 1.1",
    "mrecist": "MRECIST LENCIONI LIVER CANCER 2010",
}
"""Codelist ONCRSCAT term of each criteria (``RSCAT``, and ``TRGRPID`` of its TR rows)."""

_LNK = {"recist1.1": "RECIST", "mrecist": "MRECIST"}
_EVAL = "INDEPENDENT ASSESSOR"
_NOT_DONE = "NOT DONE"
_STUDY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SdtmExportError(ExportError):
    """Datasets that fail the SDTM checks, or files that cannot be written; nothing is written."""


class SdtmMethod(StrEnum):
    """Imaging method (codelist METHOD) of ``TUMETHOD`` / ``TRMETHOD``."""

    CT_SCAN = "CT SCAN"
    MRI = "MRI"


# -- variables --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SdtmVariable:
    """One SDTM variable of an exported dataset (what ``define.csv`` lists).

    Attributes
    ----------
    name : str
        Variable name (at most 8 characters).
    label : str
        SDTMIG label (at most 40 characters).
    type : str
        Define-XML data type: ``text``, ``integer``, ``float`` or ``date`` (ISO 8601 text).
    core : str
        ``Req`` (never empty), ``Exp`` or ``Perm``.
    codelist : str or None
        Submission value of the CDISC codelist the values come from (``"TRTESTCD"``).
    """

    name: str
    label: str
    type: str
    core: str
    codelist: str | None = None

    def __post_init__(self) -> None:
        if len(self.name) > 8 or len(self.label) > 40:
            raise ModelError(
                f"SdtmVariable {self.name}: name at most 8 and label at most 40 characters "
                f"(SAS transport v5), received {len(self.name)} and {len(self.label)}."
            )

    @property
    def numeric(self) -> bool:
        """Stored as a SAS number (``integer`` and ``float``)."""
        return self.type in ("integer", "float")


def _v(name: str, label: str, type_: str, core: str, codelist: str | None = None) -> SdtmVariable:
    return SdtmVariable(name, label, type_, core, codelist)


def _head(p: str) -> list[SdtmVariable]:
    return [
        _v("STUDYID", "Study Identifier", "text", "Req"),
        _v("DOMAIN", "Domain Abbreviation", "text", "Req"),
        _v("USUBJID", "Unique Subject Identifier", "text", "Req"),
        _v(f"{p}SEQ", "Sequence Number", "integer", "Req"),
    ]


def _tail(p: str, what: str) -> list[SdtmVariable]:
    return [
        _v(f"{p}EVAL", "Evaluator", "text", "Exp", "EVAL"),
        _v(f"{p}EVALID", "Evaluator Identifier", "text", "Perm", "MEDEVAL"),
        _v(f"{p}ACPTFL", "Accepted Record Flag", "text", "Perm", "NY"),
        _v("VISITNUM", "Visit Number", "integer", "Exp"),
        _v("VISIT", "Visit Name", "text", "Perm"),
        _v(f"{p}DTC", f"Date/Time of {what}", "date", "Exp"),
        _v(f"{p}DY", f"Study Day of {what}", "integer", "Perm"),
    ]


SDTM_VARIABLES: Mapping[str, tuple[SdtmVariable, ...]] = {
    "TU": tuple(
        [
            *_head("TU"),
            _v("TULNKID", "Link ID", "text", "Exp"),
            _v("TUTESTCD", "Tumor/Lesion ID Short Name", "text", "Req", "TUTESTCD"),
            _v("TUTEST", "Tumor/Lesion ID Test Name", "text", "Req", "TUTEST"),
            _v("TUORRES", "Tumor/Lesion ID Result", "text", "Exp", "TUIDRS"),
            _v("TUSTRESC", "Tumor/Lesion ID Result Std. Format", "text", "Exp", "TUIDRS"),
            _v("TULOC", "Location of the Tumor/Lesion", "text", "Exp", "LOC"),
            _v("TUMETHOD", "Method of Identification", "text", "Exp", "METHOD"),
            *_tail("TU", "Tumor/Lesion Identification"),
        ]
    ),
    "TR": tuple(
        [
            *_head("TR"),
            _v("TRGRPID", "Group ID", "text", "Perm"),
            _v("TRLNKID", "Link ID", "text", "Exp"),
            _v("TRLNKGRP", "Link Group", "text", "Perm"),  # SDTMIG 3.2-3.4 TR label
            _v("TRTESTCD", "Tumor/Lesion Assessment Short Name", "text", "Req", "TRTESTCD"),
            _v("TRTEST", "Tumor/Lesion Assessment Test Name", "text", "Req", "TRTEST"),
            _v("TRORRES", "Result or Finding in Original Units", "text", "Exp", "TRPROPRS"),
            _v("TRORRESU", "Original Units", "text", "Exp", "UNIT"),
            _v("TRSTRESC", "Character Result/Finding in Std Format", "text", "Exp", "TRPROPRS"),
            _v("TRSTRESN", "Numeric Result/Finding in Standard Units", "float", "Exp"),
            _v("TRSTRESU", "Standard Units", "text", "Exp", "UNIT"),
            _v("TRSTAT", "Completion Status", "text", "Perm", "ND"),
            _v("TRREASND", "Reason Not Done", "text", "Perm"),
            _v("TRMETHOD", "Method Used to Identify the Tumor/Lesion", "text", "Exp", "METHOD"),
            *_tail("TR", "Tumor/Lesion Measurement"),
        ]
    ),
    "RS": tuple(
        [
            *_head("RS"),
            _v("RSLNKGRP", "Link Group ID", "text", "Perm"),
            _v("RSTESTCD", "Assessment Short Name", "text", "Req", "ONCRTSCD"),
            _v("RSTEST", "Assessment Name", "text", "Req", "ONCRTS"),
            _v("RSCAT", "Category for Assessment", "text", "Exp", "ONCRSCAT"),
            _v("RSORRES", "Result or Finding in Original Units", "text", "Exp", "ONCRSR"),
            _v("RSSTRESC", "Character Result/Finding in Std Format", "text", "Exp", "ONCRSR"),
            *_tail("RS", "Assessment"),
        ]
    ),
}
"""The variables of each dataset, in the order they are written (SDTMIG order)."""

_DATASET_LABELS = {
    "TU": "Tumor/Lesion Identification",
    "TR": "Tumor/Lesion Results",
    "RS": "Disease Response and Clin Classification",
}

_TEST_NAMES = {
    "TUMIDENT": "Tumor Identification",
    "LDIAM": "Longest Diameter",
    "LPERP": "Longest Perpendicular",
    "VDIAM": "Viable Diameter",
    "SUMDIAM": "Sum of Diameter",
    "SUMVDIAM": "Sum of Viable Diameter",
    "TUMSTATE": "Tumor State",
    "TRGRESP": "Target Response",
    "NTRGRESP": "Non-target Response",
    "NEWLPROG": "New Lesion Progression",
    "OVRLRESP": "Overall Response",
    "BESTRESP": "Best Overall Response",
}

_ROLE_TERM = {
    LesionRole.TARGET: "TARGET",
    LesionRole.NON_TARGET: "NON-TARGET",
    LesionRole.NEW: "NEW",
}
_ROLE_PREFIX = {LesionRole.TARGET: "T", LesionRole.NON_TARGET: "NT", LesionRole.NEW: "NEW"}
_NT_STATE = {
    NonTargetStatus.PRESENT: "PRESENT",
    NonTargetStatus.ABSENT: "ABSENT",
    NonTargetStatus.UNEQUIVOCAL_PROGRESSION: "UNEQUIVOCAL",
    NonTargetStatus.NOT_EVALUATED: "NE",
}
_SEGMENT_LOC = {
    LiverSegment.I: "LIVER, CAUDATE LOBE",
    LiverSegment.II: "LIVER, LEFT LOBE POSTEROLATERAL SEGMENT",
    LiverSegment.III: "LIVER, LEFT LOBE ANTEROLATERAL SEGMENT",
    LiverSegment.IV: "LIVER, LEFT LOBE MEDIAL SEGMENT",
    LiverSegment.V: "LIVER, RIGHT LOBE ANTEROINFERIOR SEGMENT",
    LiverSegment.VI: "LIVER, RIGHT LOBE POSTEROINFERIOR SEGMENT",
    LiverSegment.VII: "LIVER, RIGHT LOBE POSTEROSUPERIOR SEGMENT",
    LiverSegment.VIII: "LIVER, RIGHT LOBE ANTEROSUPERIOR SEGMENT",
}
"""Couinaud segment -> LOC term (the terms' CDISC synonyms are "Couinaud Segment I"...)."""
_ORGAN_LOC = {
    "lymph_node": "LYMPH NODE",
    "lymph_nodes": "LYMPH NODE",
    "porta_hepatis": "PORTA HEPATIS LYMPH NODE",
    "adrenal": "ADRENAL GLAND",
    "ascites": "PERITONEAL CAVITY",
    "pleural_effusion": "PLEURAL CAVITY",
    "portal_vein_thrombosis": "PORTAL VEIN",
}


# -- input ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SdtmRead:
    """One reader's signed reads of one subject, with what the trial decided about them.

    Attributes
    ----------
    subject : str
        Trial subject code (``"SIM-001"``).
    reader_slot : int
        The reader's slot for this subject: 1 or 2 (3 for a third reader); exported as
        ``--EVALID`` ``RADIOLOGIST n``.
    accepted : frozenset of str
        The criteria (``"recist1.1"``, ``"mrecist"``) for which this read is the accepted one.
    reads : tuple of TimepointRead
        The reader's signed timepoint reads of the subject, with scan dates. When a timepoint has
        several versions the highest is used. Kept sorted by scan date.
    treatment_start : datetime.date or None
        Start of treatment (for ``--DY`` and the engine's SD minimum); None: the reads'
        ``Subject.treatment_start``, else unknown (``--DY`` empty, the baseline date stands in
        for the engine).
    method : SdtmMethod
        Imaging method of the reads (``CT SCAN`` or ``MRI``).
    """

    subject: str
    reader_slot: int
    accepted: frozenset[str]
    reads: tuple[TimepointRead, ...]
    treatment_start: dt.date | None = None
    method: SdtmMethod = SdtmMethod.CT_SCAN

    def __post_init__(self) -> None:
        who = f"SdtmRead {self.subject!r}"
        if not isinstance(self.subject, str) or not self.subject:
            raise ModelError(f"SdtmRead.subject: expected a trial code, received {self.subject!r}.")
        if isinstance(self.reader_slot, bool) or self.reader_slot not in (1, 2, 3):
            raise ModelError(
                f"{who}.reader_slot: expected 1 or 2 (3 for a third reader), received "
                f"{self.reader_slot!r}."
            )
        accepted = frozenset(self.accepted)
        unknown = sorted(str(c) for c in accepted if c not in CRITERIA)
        if unknown:
            raise ModelError(
                f"{who}.accepted: expected criteria names among {', '.join(CRITERIA)}, received "
                f"{', '.join(unknown)}."
            )
        object.__setattr__(self, "accepted", accepted)
        latest: dict[str, TimepointRead] = {}
        readers: set[str] = set()
        for r in self.reads:
            if not isinstance(r, TimepointRead):
                raise ModelError(f"{who}.reads: expected TimepointRead items, received {r!r}.")
            where = f"{who}.reads {r.subject.code}/{r.timepoint.label}"
            if r.subject.code != self.subject:
                raise ModelError(
                    f"{where}: belongs to subject {r.subject.code!r}; give one subject's reads."
                )
            if not r.is_signed:
                raise ModelError(
                    f"{where}: is a draft; only signed reads are exported. Sign it or leave it out."
                )
            if r.timepoint.scan_date is None:
                raise ModelError(
                    f"{where}: has no scan date (dates hidden from this user); export as an admin, "
                    "who sees the visit dates."
                )
            readers.add(r.reader)
            old = latest.get(r.timepoint.label)
            if old is None or r.version > old.version:
                latest[r.timepoint.label] = r
        if len(readers) > 1:
            raise ModelError(
                f"{who}.reads: expected the reads of one reader, received {len(readers)} readers; "
                "make one SdtmRead per reader."
            )
        ordered = tuple(
            sorted(latest.values(), key=lambda r: (r.timepoint.scan_date, r.timepoint.label))
        )
        object.__setattr__(self, "reads", ordered)
        if self.treatment_start is not None and (
            not isinstance(self.treatment_start, dt.date)
            or isinstance(self.treatment_start, dt.datetime)
        ):
            raise ModelError(
                f"{who}.treatment_start: expected a date or None, received "
                f"{self.treatment_start!r}."
            )
        try:
            object.__setattr__(self, "method", SdtmMethod(self.method))
        except ValueError:
            raise ModelError(
                f"{who}.method: expected 'CT SCAN' or 'MRI', received {self.method!r}."
            ) from None

    def __repr__(self) -> str:
        acc = ",".join(sorted(self.accepted)) or "-"
        return (
            f"SdtmRead({self.subject}, RADIOLOGIST {self.reader_slot}, accepted={acc}, "
            f"{len(self.reads)} timepoints)"
        )

    @property
    def start(self) -> dt.date | None:
        """The treatment start used for ``--DY``: given, else the reads' subject's, else None."""
        if self.treatment_start is not None:
            return self.treatment_start
        for r in self.reads:
            if r.subject.treatment_start is not None:
                return r.subject.treatment_start
        return None


def derive_sdtm_reads(
    reads: Iterable[TimepointRead],
    *,
    slots: Mapping[tuple[str, str], int],
    accepted: Mapping[tuple[str, str], int],
    method: SdtmMethod | str = SdtmMethod.CT_SCAN,
) -> list[SdtmRead]:
    """Group a trial's reads into :class:`SdtmRead` objects (one per subject and reader).

    Parameters
    ----------
    reads : iterable of TimepointRead
        Reads of any subjects and readers; drafts are left out (not yet data).
    slots : Mapping[(subject, reader), int]
        Each reader's slot for the subject (the store's assignments).
    accepted : Mapping[(subject, criteria), int]
        Slot of the accepted read per subject and criteria name (``"recist1.1"``,
        ``"mrecist"``); a pair that is absent has no accepted read yet.
    method : SdtmMethod or str
        Imaging method of the trial's reads.

    Returns
    -------
    list of SdtmRead
        Sorted by subject code, then slot.

    Raises
    ------
    ModelError
        A reader without a slot for the subject, or reads :class:`SdtmRead` refuses.
    """
    groups: dict[tuple[str, str], list[TimepointRead]] = {}
    for r in reads:
        if not isinstance(r, TimepointRead):
            raise ModelError(f"derive_sdtm_reads: expected TimepointRead items, received {r!r}.")
        if r.is_signed:
            groups.setdefault((r.subject.code, r.reader), []).append(r)
    out = []
    for (subject, reader), rs in groups.items():
        slot = slots.get((subject, reader))
        if slot is None:
            raise ModelError(
                f"derive_sdtm_reads: reader {reader!r} has no slot for subject {subject!r}; "
                "pass the store's assignments as slots[(subject, reader)] = 1 or 2."
            )
        acc = frozenset(c for c in CRITERIA if accepted.get((subject, c)) == slot)
        out.append(SdtmRead(subject, slot, acc, tuple(rs), method=SdtmMethod(method)))
    out.sort(key=lambda s: (s.subject, s.reader_slot))
    return out


# -- output -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SdtmDatasets:
    """The TU, TR and RS datasets of an export.

    Attributes
    ----------
    tu, tr, rs : pandas.DataFrame
        One column per :data:`SDTM_VARIABLES` entry, in that order; text columns hold ``""``
        for a missing value, integer columns are nullable ``Int64``, ``TRSTRESN`` is float.
    study_id : str
        ``STUDYID``.
    notes : tuple of str
        What could not be derived and why (for example a read the engine refuses).
    """

    tu: pd.DataFrame
    tr: pd.DataFrame
    rs: pd.DataFrame
    study_id: str
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        n = self.tu["USUBJID"].nunique() if len(self.tu) else 0
        return (
            f"SdtmDatasets({self.study_id}: {n} subjects, TU {len(self.tu)}, TR {len(self.tr)}, "
            f"RS {len(self.rs)} rows, {len(self.notes)} notes)"
        )

    def items(self) -> list[tuple[str, pd.DataFrame]]:
        """``[("TU", tu), ("TR", tr), ("RS", rs)]``."""
        return [("TU", self.tu), ("TR", self.tr), ("RS", self.rs)]


@dataclass(frozen=True, slots=True)
class SdtmFinding:
    """A problem in an exported dataset.

    Attributes
    ----------
    dataset : str
        ``TU``, ``TR`` or ``RS``.
    variable : str
        The variable concerned.
    row : int or None
        0-based row of the dataset, None for a problem of the whole dataset.
    value : str
        The offending value (``""`` when empty).
    message : str
        What is wrong and what was expected.
    """

    dataset: str
    variable: str
    row: int | None
    value: str
    message: str

    def __str__(self) -> str:
        where = "" if self.row is None else f" row {self.row}"
        return f"{self.dataset}.{self.variable}{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


# -- derivation -------------------------------------------------------------------------------


def _num(v: float) -> str:
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def _day(date: dt.date, start: dt.date | None) -> int | None:
    if start is None:
        return None
    d = (date - start).days
    return d + 1 if d >= 0 else d


@dataclass(slots=True)
class _Table:
    """The rows of one dataset as dicts (missing keys are empty values); one DataFrame at the
    end, with ``--SEQ`` numbered per ``USUBJID`` in row order."""

    domain: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, **values: Any) -> None:
        self.rows.append(values)

    def frame(self) -> pd.DataFrame:
        spec = SDTM_VARIABLES[self.domain]
        df = pd.DataFrame.from_records(self.rows, columns=[v.name for v in spec])
        for v in spec:
            col = df[v.name]
            if v.name == f"{self.domain}SEQ":
                seq = df.groupby("USUBJID", sort=False).cumcount() + 1
                df[v.name] = pd.array(seq.to_numpy(), dtype="Int64")
            elif v.name == f"{self.domain}TEST" and len(df):
                df[v.name] = df[f"{self.domain}TESTCD"].map(_TEST_NAMES).astype(object)
            elif v.type == "integer":
                df[v.name] = col.astype("Int64")
            elif v.type == "float":
                df[v.name] = col.astype("float64")
            else:
                df[v.name] = col.where(col.notna(), "").astype(object)
        return df


def _loc(a: LesionAssessment, loc_terms: frozenset[str]) -> str | None:
    les = a.lesion
    if les.liver_segment is not None:
        return _SEGMENT_LOC[les.liver_segment]
    kind = les.kind.value
    if kind in _ORGAN_LOC:
        return _ORGAN_LOC[kind]
    organ = normalise_organ(les.organ)
    if organ in _ORGAN_LOC:
        return _ORGAN_LOC[organ]
    term = organ.replace("_", " ").upper()
    if les.nodal:
        node = f"{term} LYMPH NODE"
        if node in loc_terms:
            return node
        return term if term.endswith("LYMPH NODE") and term in loc_terms else "LYMPH NODE"
    return term if term in loc_terms else None


class _Subject:
    """Everything one subject contributes to the datasets."""

    def __init__(
        self,
        study_id: str,
        subject: str,
        reads: list[SdtmRead],
        loc_terms: frozenset[str],
        tables: dict[str, _Table],
        notes: list[str],
    ) -> None:
        self.study_id = study_id
        self.usubjid = f"{study_id}-{subject}"
        self.reads = sorted(reads, key=lambda s: s.reader_slot)
        self.loc_terms = loc_terms
        self.tables = tables
        self.notes = notes
        first: dict[str, dt.date] = {}
        for s in self.reads:
            for r in s.reads:
                d = r.timepoint.scan_date
                assert d is not None  # SdtmRead refuses reads without a date
                lab = r.timepoint.label
                if lab not in first or d < first[lab]:
                    first[lab] = d
        order = sorted(first, key=lambda lab: (first[lab], lab))
        self.visitnum = {lab: i for i, lab in enumerate(order, start=1)}
        self._cache: dict[tuple[str, int, str | None], dict[str, Any]] = {}

    def _common(self, domain: str, s: SdtmRead, r: TimepointRead | None) -> dict[str, Any]:
        """The identifier, evaluator, visit and date variables of a row (``--SEQ`` is numbered
        when the table is built)."""
        key = (domain, s.reader_slot, None if r is None else r.timepoint.label)
        out = self._cache.get(key)
        if out is None:
            p = domain
            out = {
                "STUDYID": self.study_id,
                "DOMAIN": domain,
                "USUBJID": self.usubjid,
                f"{p}EVAL": _EVAL,
                f"{p}EVALID": f"RADIOLOGIST {s.reader_slot}",
            }
            if r is not None:
                date = r.timepoint.scan_date
                assert date is not None
                out["VISITNUM"] = self.visitnum[r.timepoint.label]
                out["VISIT"] = r.timepoint.label.upper()
                out[f"{p}DTC"] = date.isoformat()
                out[f"{p}DY"] = _day(date, s.start)
            self._cache[key] = out
        return out

    def derive(self) -> None:
        for s in self.reads:
            links = self._tu(s)
            for name in CRITERIA:
                crit = criteria_from_name(name)
                result = self._engine(s, name, crit)
                self._tr(s, name, crit, links, result)
                if result is not None:
                    self._rs(s, name, result)

    # TU
    def _tu(self, s: SdtmRead) -> dict[str, str]:
        links: dict[str, str] = {}
        counts = dict.fromkeys(LesionRole, 0)
        tu = self.tables["TU"]
        for r in s.reads:
            for a in r.lesions:
                les = a.lesion
                if les.label in links:
                    continue
                counts[les.role] += 1
                link = f"R{s.reader_slot}-{_ROLE_PREFIX[les.role]}{counts[les.role]:02d}"
                links[les.label] = link
                loc = _loc(a, self.loc_terms)
                if loc is None:
                    self.notes.append(
                        f"{self.usubjid} RADIOLOGIST {s.reader_slot} lesion {les.label}: organ "
                        f"{les.organ!r} is not a CDISC LOC term; TULOC left empty. Use a LOC "
                        "organ name (for example 'lung', 'adrenal gland', 'peritoneum')."
                    )
                tu.add(
                    **self._common("TU", s, r),
                    TULNKID=link,
                    TUTESTCD="TUMIDENT",
                    TUORRES=_ROLE_TERM[les.role],
                    TUSTRESC=_ROLE_TERM[les.role],
                    TULOC=loc,
                    TUMETHOD=s.method.value,
                    TUACPTFL="Y" if s.accepted else None,
                )
        return links

    # engine
    def _engine(self, s: SdtmRead, name: str, crit: ResponseCriteria) -> SubjectResult | None:
        if not s.reads:
            return None
        try:
            tl = to_subject_timeline(s.reads, crit)
            if s.treatment_start is not None:
                tl = dataclasses.replace(tl, treatment_start=s.treatment_start)
            return derive_subject_response(tl, crit)
        except (ModelError, CriteriaError) as exc:
            self.notes.append(
                f"{self.usubjid} RADIOLOGIST {s.reader_slot} {RSCAT[name]}: no RS records and no "
                f"sums, the response engine refuses the reads: {exc}"
            )
            return None

    # TR
    def _tr(
        self,
        s: SdtmRead,
        name: str,
        crit: ResponseCriteria,
        links: dict[str, str],
        result: SubjectResult | None,
    ) -> None:
        tr = self.tables["TR"]
        acpt = "Y" if name in s.accepted else None
        group = RSCAT[name]
        sums = {} if result is None else {tp.date: tp.sum_mm for tp in result.timepoints}
        has_targets = bool(s.reads and s.reads[0].targets)
        sum_code = "SUMVDIAM" if crit.target_uses_viable_diameter else "SUMDIAM"
        append = tr.rows.append
        for r in s.reads:
            base = {
                **self._common("TR", s, r),
                "TRGRPID": group,
                "TRLNKGRP": f"R{s.reader_slot}-{_LNK[name]}-V{self.visitnum[r.timepoint.label]}",
                "TRMETHOD": s.method.value,
                "TRACPTFL": acpt,
            }

            def row(
                code: str, link: str | None, base: dict[str, Any] = base, **values: Any
            ) -> None:
                append({**base, "TRLNKID": link, "TRTESTCD": code, **values})

            def size(code: str, link: str, mm: float, base: dict[str, Any] = base) -> None:
                text = _num(mm)
                append(
                    {
                        **base,
                        "TRLNKID": link,
                        "TRTESTCD": code,
                        "TRORRES": text,
                        "TRORRESU": "mm",
                        "TRSTRESC": text,
                        "TRSTRESN": float(text),
                        "TRSTRESU": "mm",
                    }
                )

            # the target values as written (2 decimals): SUMDIAM is their sum, so that the data
            # manager's check "sum of the TR values = SUMDIAM" holds to the digit
            written: list[float] = []
            for a in r.lesions:
                les = a.lesion
                link = links[les.label]
                m = a.measurement
                if les.role is LesionRole.NON_TARGET:
                    assert a.non_target_status is not None
                    state = _NT_STATE[a.non_target_status]
                    row("TUMSTATE", link, TRORRES=state, TRSTRESC=state)
                    continue
                if les.nodal:
                    code = "LPERP"
                elif uses_viable_diameter(crit, les.organ, les.nodal):
                    code = "VDIAM"
                else:
                    code = "LDIAM"
                if les.role is LesionRole.NEW:
                    state = (
                        "EQUIVOCAL" if r.new_lesion_call is NewLesionCall.EQUIVOCAL else "PRESENT"
                    )
                    row("TUMSTATE", link, TRORRES=state, TRSTRESC=state)
                    if m is not None and m.state is MeasurementState.MEASURED:
                        if m.long_axis_mm is not None:
                            size("LDIAM", link, m.long_axis_mm)
                        if code == "VDIAM" and m.viable_long_axis_mm is not None:
                            size("VDIAM", link, m.viable_long_axis_mm)
                    continue
                # target
                assert m is not None  # a target always has a measurement
                if m.state is MeasurementState.MEASURED:
                    value = a.diameter_mm(crit)
                    if value is None:
                        row(
                            code,
                            link,
                            TRSTAT=_NOT_DONE,
                            TRREASND=f"{_TEST_NAMES[code].upper()} NOT MEASURED",
                        )
                    else:
                        size(code, link, value)
                        written.append(float(_num(value)))
                elif m.state is MeasurementState.TOO_SMALL:
                    v = crit.too_small_mm
                    written.append(float(_num(v)))
                    row(
                        code,
                        link,
                        TRORRES="TOO SMALL TO MEASURE",
                        TRSTRESC=_num(v),
                        TRSTRESN=v,
                        TRSTRESU="mm",
                    )
                elif m.state is MeasurementState.ABSENT:
                    size(code, link, 0.0)
                else:
                    row(code, link, TRSTAT=_NOT_DONE, TRREASND="NOT EVALUABLE")
            if has_targets and result is not None:
                total = sums.get(r.timepoint.scan_date)  # type: ignore[arg-type]
                if total is None:
                    row(sum_code, None, TRSTAT=_NOT_DONE, TRREASND="TARGET LESION NOT EVALUABLE")
                else:
                    size(sum_code, "", sum(written))

    # RS
    def _rs(self, s: SdtmRead, name: str, result: SubjectResult) -> None:
        rs = self.tables["RS"]
        acpt = "Y" if name in s.accepted else None
        by_date = {r.timepoint.scan_date: r for r in s.reads}
        cat = RSCAT[name]

        def row(code: str, value: Response | str, r: TimepointRead | None, lnk: str) -> None:
            word = value.value if isinstance(value, Response) else value
            rs.add(
                **self._common("RS", s, r),
                RSLNKGRP=lnk,
                RSTESTCD=code,
                RSCAT=cat,
                RSORRES=word,
                RSSTRESC=word,
                RSACPTFL=acpt,
            )

        followups = 0
        for tp in result.timepoints:
            if tp.is_baseline:
                continue
            r = by_date[tp.date]
            followups += 1
            lnk = f"R{s.reader_slot}-{_LNK[name]}-V{self.visitnum[r.timepoint.label]}"
            if tp.target_response is not None:
                row("TRGRESP", tp.target_response, r, lnk)
            if tp.non_target_response is not None:
                row("NTRGRESP", tp.non_target_response, r, lnk)
            if tp.new_lesions in (NewLesionCall.UNEQUIVOCAL, NewLesionCall.EQUIVOCAL):
                row("NEWLPROG", tp.new_lesions.value.upper(), r, lnk)
            row("OVRLRESP", tp.overall_response or Response.NE, r, lnk)
        if followups:
            row("BESTRESP", result.best_overall_response, None, "")


def derive_sdtm(reads: Iterable[SdtmRead], *, study_id: str) -> SdtmDatasets:
    """SDTM TU, TR and RS of every reader's reads, for RECIST 1.1 and mRECIST.

    Parameters
    ----------
    reads : iterable of SdtmRead
        One per subject and reader (:func:`derive_sdtm_reads` builds them from a store's reads).
        Empty: three header-only datasets.
    study_id : str
        ``STUDYID`` (letters, digits, ``_ . -``; at most 40 characters).

    Returns
    -------
    SdtmDatasets
        Rows sorted by subject, reader slot, then criteria and visit (see the module docstring
        for every variable); :attr:`SdtmDatasets.notes` says what could not be derived.

    Raises
    ------
    ModelError
        A bad study id, an item that is not an SdtmRead, or two SdtmReads of the same subject
        and slot.
    """
    if not isinstance(study_id, str) or not _STUDY_ID.match(study_id):
        raise ModelError(
            f"derive_sdtm: study_id: expected letters, digits, '_', '.', '-' (at most 40 "
            f"characters, starting with a letter or digit), received {study_id!r}."
        )
    by_subject: dict[str, list[SdtmRead]] = {}
    for s in reads:
        if not isinstance(s, SdtmRead):
            raise ModelError(f"derive_sdtm: expected SdtmRead items, received {s!r}.")
        group = by_subject.setdefault(s.subject, [])
        if any(o.reader_slot == s.reader_slot for o in group):
            raise ModelError(
                f"derive_sdtm: subject {s.subject!r} has two reads in slot {s.reader_slot}; "
                "give one SdtmRead per subject and reader."
            )
        group.append(s)
    loc_terms = load_sdtm_codelists()["LOC"].terms
    tables = {d: _Table(d) for d in SDTM_VARIABLES}
    notes: list[str] = []
    for subject in sorted(by_subject):
        _Subject(study_id, subject, by_subject[subject], loc_terms, tables, notes).derive()
    return SdtmDatasets(
        tu=tables["TU"].frame(),
        tr=tables["TR"].frame(),
        rs=tables["RS"].frame(),
        study_id=study_id,
        notes=tuple(notes),
    )


# -- checks -----------------------------------------------------------------------------------


def _text(df: pd.DataFrame, name: str) -> pd.Series:
    """A text column with missing values as ``""``."""
    col = df[name]
    if col.dtype == object and not col.isna().any():
        return col
    return col.astype(object).where(col.notna(), "").astype(str)


def _rows_with(col: pd.Series, values: Iterable[str]) -> list[tuple[int, str]]:
    """0-based positions and values of the rows of ``col`` that hold one of ``values``."""
    hit = col.isin(list(values)).to_numpy()
    return [(int(i), str(col.iloc[i])) for i in np.flatnonzero(hit)]


def check_sdtm_terms(
    datasets: SdtmDatasets, codelists: Mapping[str, Codelist] | None = None
) -> list[SdtmFinding]:
    """Every coded value that is not a term of its CDISC codelist.

    Parameters
    ----------
    datasets : SdtmDatasets
        The datasets to check.
    codelists : Mapping[str, Codelist], optional
        Codelists by submission value (:func:`~readerstation.export.sdtm_terms.
        load_sdtm_codelists`); default: the bundled ones. A codelist a variable needs that is
        missing here is itself a finding.

    Returns
    -------
    list of SdtmFinding
        Empty when every value of a coded variable (:attr:`SdtmVariable.codelist`) is a term of
        its codelist, and every ``--TEST`` is the name of the ``--TESTCD`` next to it (same
        C-code). ``TRORRES`` / ``TRSTRESC`` are coded (TRPROPRS) only for ``TUMSTATE``; for
        sizes they hold numbers.
    """
    cls = load_sdtm_codelists() if codelists is None else codelists
    findings: list[SdtmFinding] = []
    for domain, df in datasets.items():
        state_rows: pd.Series | None = None
        if domain == "TR":
            state_rows = _text(df, "TRTESTCD") == "TUMSTATE"
        for v in SDTM_VARIABLES[domain]:
            if v.codelist is None:
                continue
            cl = cls.get(v.codelist)
            if cl is None:
                findings.append(
                    SdtmFinding(
                        domain,
                        v.name,
                        None,
                        "",
                        f"codelist {v.codelist} is not among the codelists given; load the CDISC "
                        "terminology that holds it.",
                    )
                )
                continue
            col = _text(df, v.name)
            if state_rows is not None and v.name in ("TRORRES", "TRSTRESC"):
                col = col.where(state_rows, "")
            terms = cl.terms
            bad = [x for x in pd.unique(col) if x and x not in terms]
            for i, value in _rows_with(col, bad):
                findings.append(
                    SdtmFinding(
                        domain,
                        v.name,
                        i,
                        value,
                        f"{value!r} is not a term of codelist {cl.name} ({cl.code}, {cl.title}).",
                    )
                )
        cd, name = f"{domain}TESTCD", f"{domain}TEST"
        cd_list = cls.get(f"{domain}TESTCD" if domain != "RS" else "ONCRTSCD")
        name_list = cls.get(f"{domain}TEST" if domain != "RS" else "ONCRTS")
        if cd_list is None or name_list is None:
            continue
        pairs = _text(df, cd) + "\t" + _text(df, name)
        wrong = []
        for pair in pd.unique(pairs):
            c, n = str(pair).split("\t", 1)
            cc, nc = cd_list.code_of(c), name_list.code_of(n)
            if cc is not None and nc is not None and cc != nc:
                wrong.append(pair)
        for i, pair in _rows_with(pairs, wrong):
            c, n = pair.split("\t", 1)
            findings.append(
                SdtmFinding(
                    domain,
                    name,
                    i,
                    n,
                    f"{n!r} ({name_list.code_of(n)}) is not the test name of {cd} {c!r} "
                    f"({cd_list.code_of(c)}); use the name with the same C-code.",
                )
            )
    return findings


def _text_problem(v: SdtmVariable, domain: str, x: str) -> str | None:
    if not x:
        return "required value is empty." if v.core == "Req" else None
    if len(x) > 200 or not x.isascii():
        return "expected ASCII text of at most 200 characters (SAS transport v5)."
    if v.type == "date" and not _ISO_DATE.match(x):
        return "expected an ISO 8601 date YYYY-MM-DD."
    if v.name == "DOMAIN" and x != domain:
        return f"expected {domain!r}."
    if v.name.endswith("ACPTFL") and x != "Y":
        return "expected 'Y' or empty."
    return None


def check_sdtm_structure(datasets: SdtmDatasets) -> list[SdtmFinding]:
    """Structural problems that would make a row malformed.

    Checks: the columns are exactly :data:`SDTM_VARIABLES` in order; ``Req`` variables are never
    empty; numeric variables hold numbers (integers for ``integer``); text values are ASCII and
    at most 200 characters (SAS transport v5); ``--DTC`` values are ISO 8601 dates; ``DOMAIN``
    is the dataset's name; ``--SEQ`` is unique within each ``USUBJID``; ``--ACPTFL`` is ``Y`` or
    empty.

    Returns
    -------
    list of SdtmFinding
        Empty when the datasets are well formed, else one per offending value, by row.
    """
    findings: list[SdtmFinding] = []
    for domain, df in datasets.items():
        spec = SDTM_VARIABLES[domain]
        names = [v.name for v in spec]
        if list(df.columns) != names:
            findings.append(
                SdtmFinding(
                    domain,
                    "*",
                    None,
                    ",".join(map(str, df.columns)),
                    f"columns must be {', '.join(names)} in that order.",
                )
            )
            continue
        for v in spec:
            if v.numeric:
                raw = df[v.name]
                missing = raw.isna().to_numpy()
                if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
                    num = raw
                    not_number = np.zeros(len(raw), dtype=bool)
                else:
                    num = pd.to_numeric(raw, errors="coerce")
                    not_number = (num.isna().to_numpy() & ~missing) | raw.map(
                        lambda x: isinstance(x, bool | str)
                    ).to_numpy(dtype=bool)
                for i in np.flatnonzero(not_number):
                    findings.append(
                        SdtmFinding(domain, v.name, int(i), str(raw.iloc[i]), "expected a number.")
                    )
                if v.core == "Req":
                    for i in np.flatnonzero(missing):
                        findings.append(
                            SdtmFinding(domain, v.name, int(i), "", "required value is empty.")
                        )
                if v.type == "integer":
                    values = num.to_numpy(dtype="float64", na_value=np.nan)
                    frac = np.isfinite(values) & (values != np.floor(values))
                    for i in np.flatnonzero(frac & ~not_number):
                        findings.append(
                            SdtmFinding(
                                domain, v.name, int(i), str(raw.iloc[i]), "expected an integer."
                            )
                        )
                continue
            col = _text(df, v.name)
            problems = {x: p for x in pd.unique(col) if (p := _text_problem(v, domain, x))}
            for row, x in _rows_with(col, problems):
                findings.append(SdtmFinding(domain, v.name, row, x, problems[x]))
        if len(df):
            seq = df[["USUBJID", f"{domain}SEQ"]]
            for i in np.flatnonzero(seq.duplicated().to_numpy()):
                findings.append(
                    SdtmFinding(
                        domain,
                        f"{domain}SEQ",
                        int(i),
                        str(seq.iloc[i, 1]),
                        "sequence number repeated within the subject.",
                    )
                )
    return findings


# -- define and files -------------------------------------------------------------------------


def derive_define(
    datasets: SdtmDatasets, codelists: Mapping[str, Codelist] | None = None
) -> pd.DataFrame:
    """A short data definition of the datasets: one row per variable.

    Columns ``dataset, order, variable, label, type`` (Define-XML data type), ``sas_type``
    (``Char`` / ``Num``), ``length`` (the longest value of a text variable, at least 1, as the
    transport file stores it; 8 for numbers), ``core`` and ``codelist`` (``C96779 TRTESTCD``,
    empty for free text).
    """
    cls = load_sdtm_codelists() if codelists is None else codelists
    rows = []
    for domain, df in datasets.items():
        for k, v in enumerate(SDTM_VARIABLES[domain], start=1):
            if v.numeric:
                length = 8
            else:
                length = max([1, *(len(x) for x in pd.unique(_text(df, v.name)))])
            cl = cls.get(v.codelist) if v.codelist else None
            rows.append(
                {
                    "dataset": domain,
                    "order": k,
                    "variable": v.name,
                    "label": v.label,
                    "type": v.type,
                    "sas_type": "Num" if v.numeric else "Char",
                    "length": length,
                    "core": v.core,
                    "codelist": ""
                    if v.codelist is None
                    else f"{cl.code if cl else ''} {v.codelist}".strip()
                    + _VALUE_LEVEL.get(v.name, ""),
                }
            )
    return pd.DataFrame(rows)


# codelists that apply to some rows only (value-level metadata, said in the define)
_VALUE_LEVEL = {
    "TRORRES": " (where TRTESTCD = TUMSTATE; sizes are numbers in mm)",
    "TRSTRESC": " (where TRTESTCD = TUMSTATE; sizes are numbers in mm)",
}


def _for_xpt(df: pd.DataFrame, domain: str) -> pd.DataFrame:
    out = {}
    for v in SDTM_VARIABLES[domain]:
        if v.numeric:
            out[v.name] = pd.to_numeric(df[v.name], errors="coerce").astype("float64")
        else:
            out[v.name] = _text(df, v.name).reset_index(drop=True)
    return pd.DataFrame(out, columns=[v.name for v in SDTM_VARIABLES[domain]])


def _csv_cell(value: str) -> str:
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _number_text(x: float) -> str:
    if x != x:
        return ""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _save_csv(df: pd.DataFrame, path: Path) -> None:
    """RFC 4180 CSV: a header, ``""`` for a missing value, integers without ``.0``.

    Each distinct value is formatted once (the datasets repeat most values), which makes this
    about twice as fast as ``DataFrame.to_csv`` on the benchmark's TR.
    """
    columns = []
    for name in df.columns:
        col = df[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            values = col.astype("float64").to_numpy(na_value=np.nan).tolist()
            fmt = {x: _number_text(x) for x in set(values) if x == x}
            columns.append([fmt[x] if x == x else "" for x in values])
        else:
            texts = _text(df, name).tolist()
            fmt_text = {x: _csv_cell(str(x)) for x in set(texts)}
            columns.append([fmt_text[x] for x in texts])
    with path.open("w", encoding="ascii", newline="") as f:
        f.write(",".join(_csv_cell(str(c)) for c in df.columns) + "\n")
        f.writelines(",".join(row) + "\n" for row in zip(*columns, strict=True))


def save_sdtm(datasets: SdtmDatasets, out_dir: str | Path) -> list[Path]:
    """Write ``tu``, ``tr``, ``rs`` as ``.csv`` and SAS transport v5 ``.xpt``, and ``define.csv``.

    The datasets are checked first (:func:`check_sdtm_structure`, :func:`check_sdtm_terms` with
    the bundled codelists); when any check fails nothing is written. The ``.xpt`` files are
    written by :func:`~readerstation.export.sdtm_xpt.save_xpt_v5`: dataset name = domain,
    dataset label, variable labels; text lengths as ``define.csv`` gives them (the longest
    value, at least 1).

    Parameters
    ----------
    datasets : SdtmDatasets
        From :func:`derive_sdtm`.
    out_dir : str or Path
        Folder to write into (created when missing; files there are replaced).

    Returns
    -------
    list of Path
        The 7 files written.

    Raises
    ------
    SdtmExportError
        A check failed (the first findings are named) or a file cannot be written.
    """
    findings = check_sdtm_structure(datasets) + check_sdtm_terms(datasets)
    if findings:
        shown = "; ".join(str(f) for f in findings[:5])
        more = f" (and {len(findings) - 5} more)" if len(findings) > 5 else ""
        raise SdtmExportError(
            f"save_sdtm: the datasets fail the SDTM checks, nothing written: {shown}{more}. "
            "Fix the reads or report the problem."
        )
    out = Path(out_dir)
    written: list[Path] = []
    define = derive_define(datasets)
    widths = {
        d: {r.variable: int(r.length) for r in g.itertuples() if r.sas_type == "Char"}
        for d, g in define.groupby("dataset")
    }
    try:
        out.mkdir(parents=True, exist_ok=True)
        for domain, df in datasets.items():
            stem = domain.lower()
            csv_path = out / f"{stem}.csv"
            _save_csv(df, csv_path)
            written.append(csv_path)
            xpt_path = out / f"{stem}.xpt"
            save_xpt_v5(
                _for_xpt(df, domain),
                xpt_path,
                name=domain,
                label=_DATASET_LABELS[domain],
                column_labels=[v.label for v in SDTM_VARIABLES[domain]],
                char_widths=widths[domain],
            )
            written.append(xpt_path)
        define_path = out / "define.csv"
        define.to_csv(define_path, index=False, lineterminator="\n")
        written.append(define_path)
    except OSError as exc:
        raise SdtmExportError(
            f"save_sdtm: cannot write into {out}: {exc.strerror or exc}; choose a folder you can "
            "write to."
        ) from None
    return written


def export_from_repository(
    repo: Any,
    out_dir: str | Path,
    *,
    study_id: str,
    method: SdtmMethod | str = SdtmMethod.CT_SCAN,
    report: Callable[[str], None] | None = None,
) -> list[Path]:
    """``readerstation export --format sdtm``: every signed read of a store to SDTM files.

    Parameters
    ----------
    repo : Repository
        An admin's repository: :meth:`export_reads` (latest signed versions),
        :meth:`list_assignments` (reader slots) and :meth:`accepted_reads` for
        ``"recist1.1"`` and ``"mrecist"`` (subjects with an open discrepancy have no accepted
        read yet: their rows carry no ``--ACPTFL``).
    out_dir : str or Path
        Folder for the 7 files (:func:`save_sdtm`).
    study_id : str
        ``STUDYID``.
    method : SdtmMethod or str
        Imaging method of the trial's reads (``CT SCAN`` or ``MRI``).
    report : callable, optional
        Called with each of :attr:`SdtmDatasets.notes` (what could not be derived).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    AccessDenied
        Not an admin.
    ModelError, SdtmExportError
        See :func:`derive_sdtm_reads`, :func:`derive_sdtm`, :func:`save_sdtm`.
    """
    from readerstation.errors import AccessDenied
    from readerstation.model.enums import UserRole

    if repo.user.role is not UserRole.ADMIN:
        # the store refuses (and audits) the calls below anyway; say it in the export's words
        raise AccessDenied(
            f"export --format sdtm: user {repo.user.name!r} has role {repo.user.role.value!r}; "
            "the SDTM export holds every reader's reads and needs role admin. A reader exports "
            "their own reads with --format json, csv or sr."
        )
    reads = repo.export_reads()
    slots = {(a.subject, a.reader): a.slot for a in repo.list_assignments()}
    accepted = {
        (a.subject, name): a.reader_slot for name in CRITERIA for a in repo.accepted_reads(name)
    }
    items = derive_sdtm_reads(reads, slots=slots, accepted=accepted, method=method)
    datasets = derive_sdtm(items, study_id=study_id)
    if report is not None:
        for note in datasets.notes:
            report(note)
    return save_sdtm(datasets, out_dir)
