"""Argument types shared by several sub-commands."""

from __future__ import annotations

import argparse
import math


def parse_lps_point(text: str) -> tuple[float, float, float]:
    """Parse ``X,Y,Z`` (patient LPS mm) given as ``--opt=X,Y,Z`` so negative values parse.

    Raises
    ------
    argparse.ArgumentTypeError
        When the text is not three finite numbers separated by commas.

    Examples
    --------
    >>> parse_lps_point("-70, -15, 60.5")
    (-70.0, -15.0, 60.5)
    """
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(
            f"expected X,Y,Z in patient LPS mm written as --opt=X,Y,Z (e.g. --seed=-70,-15,60); "
            f"got {text!r}"
        )
    try:
        x, y, z = (float(p) for p in parts)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"X,Y,Z must be numbers; got {text!r}") from exc
    if not all(math.isfinite(v) for v in (x, y, z)):
        raise argparse.ArgumentTypeError(f"X,Y,Z must be finite numbers; got {text!r}")
    return (x, y, z)
