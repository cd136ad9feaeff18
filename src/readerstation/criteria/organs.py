"""Organ rules shared by the reading-time checks, the response engine and the reading model.

One place decides how an organ name is compared, which organ a target counts against for the
per-organ limit, which lesions are intrahepatic and which are measured by their viable diameter,
so that a lesion set the reader's checks accept is accepted by the engine with the same counts.

* Organ names compare case-insensitively, runs of spaces and hyphens as one underscore
  (``"Porta Hepatis"`` = ``"porta_hepatis"``).
* All lymph nodes are one organ (RECIST 1.1 Q&A, EORTC "Two target lesions": "Nodes are
  considered to be one organ"): a ``nodal`` lesion, whatever its region, and a lesion whose organ
  is named as lymph nodes (``"lymph node"``, ``"lymph nodes"``) count against
  :data:`LYMPH_NODES`.
* mRECIST's viable (arterially enhancing) diameter applies to HCC lesions in the liver only
  (Lencioni & Llovet 2010); other lesions, and nodes (short axis), follow RECIST 1.1.

Examples
--------
>>> organ_group("Mediastinum", nodal=True)
'lymph_nodes'
>>> organ_group("lymph nodes", nodal=False)
'lymph_nodes'
>>> organ_group("Porta Hepatis", nodal=False)
'porta_hepatis'
>>> from readerstation.criteria.params import MRecistCriteria
>>> uses_viable_diameter(MRecistCriteria(), "liver", nodal=False)
True
>>> uses_viable_diameter(MRecistCriteria(), "lung", nodal=False)
False
"""

from __future__ import annotations

import re

from readerstation.criteria.params import ResponseCriteria

__all__ = [
    "LIVER",
    "LYMPH_NODES",
    "PORTA_HEPATIS",
    "is_intrahepatic",
    "normalise_organ",
    "organ_group",
    "uses_viable_diameter",
]

LIVER = "liver"
"""Normalised organ name of the liver (intrahepatic lesions; ``max_intrahepatic_targets``)."""
LYMPH_NODES = "lymph_nodes"
"""Organ group of every lymph node (one organ for ``max_targets_per_organ``)."""
PORTA_HEPATIS = "porta_hepatis"
"""Normalised organ name of porta hepatis nodes (``porta_hepatis_node_min_mm``)."""

_NODE_NAMES = frozenset({"lymph_node", "lymph_nodes", LYMPH_NODES})
_SEPARATORS = re.compile(r"[\s\-]+")


def normalise_organ(organ: str) -> str:
    """Organ name as the criteria compare it: lower case, spaces and hyphens as underscores.

    >>> normalise_organ("  Porta  Hepatis ")
    'porta_hepatis'
    """
    return _SEPARATORS.sub("_", organ.strip().lower())


def organ_group(organ: str, nodal: bool) -> str:
    """The organ a target counts against for the per-organ target limit.

    Parameters
    ----------
    organ : str
        Organ name (any case; spaces and hyphens are underscores).
    nodal : bool
        The lesion is a lymph node (measured by its short axis).

    Returns
    -------
    str
        :data:`LYMPH_NODES` for a node or an organ named as lymph nodes, else the normalised
        organ name (:data:`LIVER` for the liver).
    """
    key = normalise_organ(organ)
    if nodal or key in _NODE_NAMES:
        return LYMPH_NODES
    return key


def is_intrahepatic(organ: str, nodal: bool) -> bool:
    """True for a non-nodal lesion in the liver."""
    return not nodal and normalise_organ(organ) == LIVER


def uses_viable_diameter(criteria: ResponseCriteria, organ: str, nodal: bool) -> bool:
    """True when ``criteria`` measure this lesion by its viable (arterially enhancing) diameter.

    Only intrahepatic, non-nodal lesions under criteria with ``target_uses_viable_diameter``
    (mRECIST, Lencioni & Llovet 2010); every other lesion is measured by its long axis (short
    axis for nodes), as in RECIST 1.1.

    Parameters
    ----------
    criteria : ResponseCriteria
        RECIST 1.1 or mRECIST parameters.
    organ : str
        Organ name of the lesion.
    nodal : bool
        The lesion is a lymph node.
    """
    return criteria.target_uses_viable_diameter and is_intrahepatic(organ, nodal)
