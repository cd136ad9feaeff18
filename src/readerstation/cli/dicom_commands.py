"""Sub-commands of the dicom group (placeholder until its issue lands)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    """Add this group's sub-commands to the top-level parser."""
