"""The reading charter of a dual-read ("2 + 1") trial: what is compared, and what is accepted.

A blinded independent central review (BICR) compares the two readers' results on the
*adjudication variables* the charter names; a difference on any of them sends the subject to
the adjudicator. The charter also says whose read is accepted when the readers agree and
whether readers see visit dates.

Examples
--------
>>> c = Charter(variables=("best_overall_response", "timepoint_response"))
>>> c.variables[1]
<AdjudicationVariable.TIMEPOINT_RESPONSE: 'timepoint_response'>
>>> Charter.from_dict(c.to_dict()) == c
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from readerstation.errors import ModelError

__all__ = [
    "DEFAULT_VARIABLES",
    "AdjudicationReason",
    "AdjudicationVariable",
    "Charter",
    "DiscrepancyCause",
]

_CRITERIA_NAMES = ("recist1.1", "mrecist")


class AdjudicationVariable(StrEnum):
    """A subject-level result the two readers must agree on (else the subject is adjudicated)."""

    BEST_OVERALL_RESPONSE = "best_overall_response"
    """Best overall response, with the criteria's confirmation rules."""
    PROGRESSION_DATE = "progression_date"
    """Date of the first PD (None when the reader never calls PD)."""
    RESPONSE_DATE = "response_date"
    """Date of the first CR or PR that was later confirmed (None when no confirmed response)."""
    TIMEPOINT_RESPONSE = "timepoint_response"
    """Overall response of every follow-up timepoint (optional in most charters)."""


class AdjudicationReason(StrEnum):
    """Why the adjudicator endorsed one read (the structured reason of the issue)."""

    LESION_SELECTION = "lesion_selection"
    MEASUREMENT_VARIABILITY = "measurement_variability"
    NEW_LESION_CALL = "new_lesion_call"
    NON_TARGET_PROGRESSION = "non_target_progression"
    IMAGE_QUALITY = "image_quality"
    READER_ERROR = "reader_error"


class DiscrepancyCause(StrEnum):
    """A measurement-level difference between two reads of the same subject."""

    TARGET_SELECTION = "target_selection"
    """The readers chose different target lesions at baseline (by organ and size)."""
    SUM_DIFFERENCE = "sum_difference"
    """The sums of target diameters differ enough to matter at a timepoint."""
    NEW_LESION_CALL = "new_lesion_call"
    """One reader called a new lesion (or called it at another timepoint)."""
    NON_TARGET_CALL = "non_target_call"
    """The readers' non-target responses differ (e.g. unequivocal progression by one only)."""


DEFAULT_VARIABLES: tuple[AdjudicationVariable, ...] = (
    AdjudicationVariable.BEST_OVERALL_RESPONSE,
    AdjudicationVariable.PROGRESSION_DATE,
    AdjudicationVariable.RESPONSE_DATE,
)
"""The variables most BICR charters adjudicate on: BOR, date of PD, date of response."""


@dataclass(frozen=True, slots=True)
class Charter:
    """The rules of a dual-read trial, valid once built.

    Attributes
    ----------
    variables : tuple of AdjudicationVariable
        The variables compared; a difference on any of them needs adjudication. Given as words or
        members, normalised to members; at least one, no repeats.
    default_accepted_slot : int
        1 or 2: whose read is accepted when the two readers agree (default: reader 1).
    hide_visit_dates : bool
        Readers see ``TP0``, ``TP1``... and no scan dates.
    criteria : tuple of str
        The criteria both reads are evaluated by, from ``"recist1.1"`` and ``"mrecist"``.
    """

    variables: tuple[AdjudicationVariable, ...] = DEFAULT_VARIABLES
    default_accepted_slot: int = 1
    hide_visit_dates: bool = False
    criteria: tuple[str, ...] = _CRITERIA_NAMES

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", _variables(self.variables))
        slot = self.default_accepted_slot
        if isinstance(slot, bool) or slot not in (1, 2):
            raise ModelError(
                f"Charter.default_accepted_slot: expected 1 or 2 (the reader whose read is "
                f"accepted when both agree), received {slot!r}."
            )
        if not isinstance(self.hide_visit_dates, bool):
            raise ModelError(
                f"Charter.hide_visit_dates: expected true or false, received "
                f"{self.hide_visit_dates!r}."
            )
        object.__setattr__(self, "criteria", _criteria(self.criteria))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` reads it back."""
        return {
            "variables": [v.value for v in self.variables],
            "default_accepted_slot": self.default_accepted_slot,
            "hide_visit_dates": self.hide_visit_dates,
            "criteria": list(self.criteria),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Charter:
        """A charter from :meth:`to_dict` output; missing keys take their defaults.

        Raises
        ------
        ModelError
            Not a mapping, an unknown key, or a bad value (the message names the key).
        """
        if not isinstance(data, Mapping):
            raise ModelError(
                f"Charter: expected an object with variables, default_accepted_slot, "
                f"hide_visit_dates, criteria; received {type(data).__name__} {data!r}."
            )
        known = {"variables", "default_accepted_slot", "hide_visit_dates", "criteria"}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise ModelError(
                f"Charter: unknown key(s) {', '.join(unknown)}; expected only "
                f"{', '.join(sorted(known))}."
            )
        kwargs: dict[str, Any] = {}
        for key in ("variables", "criteria"):
            if key in data:
                value = data[key]
                if isinstance(value, str) or not isinstance(value, list | tuple):
                    raise ModelError(
                        f"Charter.{key}: expected a list of words, received {value!r}."
                    )
                kwargs[key] = tuple(value)
        for key in ("default_accepted_slot", "hide_visit_dates"):
            if key in data:
                kwargs[key] = data[key]
        return cls(**kwargs)


def _variables(value: object) -> tuple[AdjudicationVariable, ...]:
    words = ", ".join(repr(v.value) for v in AdjudicationVariable)
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise ModelError(f"Charter.variables: expected a tuple of {words}; received {value!r}.")
    out: list[AdjudicationVariable] = []
    for item in value:
        try:
            var = AdjudicationVariable(item)
        except ValueError:
            raise ModelError(
                f"Charter.variables: expected words from {words}, received {item!r}."
            ) from None
        if var in out:
            raise ModelError(f"Charter.variables: {var.value!r} is listed twice; list it once.")
        out.append(var)
    if not out:
        raise ModelError(
            f"Charter.variables: expected at least one variable from {words}, received none."
        )
    return tuple(out)


def _criteria(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise ModelError(
            f"Charter.criteria: expected a tuple of 'recist1.1'/'mrecist', received {value!r}."
        )
    out: list[str] = []
    for item in value:
        if item not in _CRITERIA_NAMES:
            raise ModelError(
                f"Charter.criteria: expected 'recist1.1' or 'mrecist', received {item!r}."
            )
        if item in out:
            raise ModelError(f"Charter.criteria: {item!r} is listed twice; list it once.")
        out.append(item)
    if not out:
        raise ModelError("Charter.criteria: expected at least one of 'recist1.1', 'mrecist'.")
    return tuple(out)
