"""CDISC controlled terminology for the SDTM export: the codelists, their terms and C-codes.

The export ships ``sdtm_ct.csv`` next to this module: every term of the codelists it uses, taken
unchanged (columns ``clst_code, is_clst, code, term, ext, name, syn``; definitions left out) from
the CDISC SDTM oncology terminology of 2025-03-25 (``oncology_codelists_sdtm_ct_2025-03-25.csv``):
LOC, METHOD, EVAL, MEDEVAL, ND, ONCRSCAT, ONCRSR, ONCRTSCD, ONCRTS, TUTESTCD, TUTEST, TUIDRS,
TRTESTCD, TRTEST and TRPROPRS. Two general codelists that the oncology file does not hold are
appended: NY (C66742, for the ``--ACPTFL`` flag ``Y``) and the one UNIT term the export writes,
``mm`` (C71620, C28251).

:func:`load_sdtm_codelists` reads that file, or the full terminology file in the same layout.

Examples
--------
>>> ct = load_sdtm_codelists()
>>> "SUMVDIAM" in ct["TRTESTCD"].terms
True
>>> ct["TRTESTCD"].code_of("VDIAM") == ct["TRTEST"].code_of("Viable Diameter")
True
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from readerstation.errors import ModelError

__all__ = ["BUNDLED_CT", "CT_VERSION", "Codelist", "load_sdtm_codelists"]

BUNDLED_CT = Path(__file__).with_name("sdtm_ct.csv")
"""The codelist file shipped with readerstation (see the module docstring)."""

CT_VERSION = "SDTM CT 2025-03-25"
"""Version of the CDISC terminology the bundled codelists come from."""


@dataclass(frozen=True, slots=True)
class Codelist:
    """One CDISC codelist.

    Attributes
    ----------
    code : str
        NCI C-code of the codelist (``"C96779"``).
    name : str
        Its submission value (``"TRTESTCD"``).
    title : str
        Its name (``"Tumor or Lesion Properties Test Code"``).
    extensible : bool
        CDISC allows sponsor terms (the export adds none).
    term_codes : Mapping[str, str]
        Submission value of each term -> its C-code.
    synonyms : Mapping[str, str]
        Submission value -> its CDISC synonyms (``"Couinaud Segment VII"``), ``""`` if none.
    """

    code: str
    name: str
    title: str
    extensible: bool
    term_codes: Mapping[str, str] = field(default_factory=dict)
    synonyms: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Codelist({self.code} {self.name}, {len(self.term_codes)} terms)"

    @property
    def terms(self) -> frozenset[str]:
        """The submission values of the codelist's terms."""
        return frozenset(self.term_codes)

    def code_of(self, term: str) -> str | None:
        """The C-code of ``term``, or None when it is not a term of this codelist."""
        return self.term_codes.get(term)


def _read(path: Path) -> dict[str, Codelist]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise ModelError(
            f"load_sdtm_codelists: cannot read {path}: {exc.strerror}; give the CDISC "
            "terminology CSV (columns clst_code, is_clst, code, term, ext, name, syn)."
        ) from None
    heads: dict[str, dict[str, str]] = {}
    terms: dict[str, dict[str, str]] = {}
    syns: dict[str, dict[str, str]] = {}
    for i, r in enumerate(rows, start=2):
        try:
            clst, is_clst, code, term = r["clst_code"], r["is_clst"], r["code"], r["term"]
        except KeyError as exc:
            raise ModelError(
                f"load_sdtm_codelists: {path} line {i} lacks column {exc}; expected the CDISC "
                "terminology layout (clst_code, is_clst, code, term, ext, name, syn)."
            ) from None
        if is_clst == "True":
            heads[clst] = r
        else:
            terms.setdefault(clst, {})[term] = code
            syns.setdefault(clst, {})[term] = r.get("syn") or ""
    out: dict[str, Codelist] = {}
    for clst, head in heads.items():
        out[head["term"]] = Codelist(
            code=clst,
            name=head["term"],
            title=head.get("name") or "",
            extensible=head.get("ext") == "True",
            term_codes=terms.get(clst, {}),
            synonyms=syns.get(clst, {}),
        )
    return out


@functools.cache
def _bundled() -> dict[str, Codelist]:
    return _read(BUNDLED_CT)


def load_sdtm_codelists(path: str | Path | None = None) -> dict[str, Codelist]:
    """The codelists of a CDISC terminology CSV, by submission value (``"TRTESTCD"``).

    Parameters
    ----------
    path : str or Path, optional
        A terminology file in the CDISC layout (``clst_code, is_clst, code, term, ext, name,
        syn``); default: the codelists bundled with readerstation (:data:`BUNDLED_CT`).

    Returns
    -------
    dict of str to Codelist
        A new dict (the bundled one is read once and cached).

    Raises
    ------
    ModelError
        The file cannot be read or lacks a column.
    """
    if path is None:
        return dict(_bundled())
    return _read(Path(path))
