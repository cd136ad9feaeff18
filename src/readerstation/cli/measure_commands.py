"""Sub-command ``measure``: a seed click -> proposed RECIST / mRECIST diameters, for scripting and QA.

Contract (other tools rely on it)::

    readerstation measure PATH [--series UID] --seed=X,Y,Z [--json]

loads one series of PATH (``--series`` optional when PATH holds one series, or the arterial series
is proposed) and, for the seed in patient LPS mm, prints ``long_axis_mm``, ``short_axis_mm``,
``viable_long_axis_mm``, ``long_axis_points_lps_mm``, ``short_axis_points_lps_mm``,
``viable_points_lps_mm`` (two [x, y, z] points each, or null), ``sop_instance_uid``,
``slice_index``, ``viable_sop_instance_uid``, ``viable_slice_index``, ``series_uid``,
``seed_lps_mm``, ``liver_reference_hu`` and ``warnings``. A seed outside the image, on air or not
inside a lesion exits 2 with a one-line error naming the problem.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from readerstation.cli._args import parse_lps_point


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``measure`` to the top-level parser."""
    p = subparsers.add_parser(
        "measure",
        help="propose lesion diameters from a seed point (long, short, viable axis)",
        description=(
            "Segment the lesion under a seed point (patient LPS mm, written --seed=X,Y,Z) on one "
            "series of PATH and print the proposed long axis, perpendicular short axis and "
            "viable (arterially enhancing) diameter with their end points in LPS mm."
        ),
    )
    p.add_argument("path", metavar="PATH", help="folder (scanned recursively) or file")
    p.add_argument("--series", metavar="UID", help="SeriesInstanceUID (default: the arterial one)")
    p.add_argument(
        "--seed",
        metavar="X,Y,Z",
        required=True,
        type=parse_lps_point,
        help="point inside the lesion, patient LPS mm; write --seed=X,Y,Z",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run_measure)


def _fmt(points: list[list[float]] | None) -> str:
    if points is None:
        return "-"
    return " -> ".join("(" + ", ".join(f"{v:.1f}" for v in pt) + ")" for pt in points)


def run_measure(args: argparse.Namespace) -> int:
    """Handler of ``readerstation measure``."""
    # heavy (pydicom, scipy, scikit-image): imported on use, so `--help` stays fast
    from readerstation.dicom import index_folder, load_series, plan_series, select_series
    from readerstation.measure import propose_diameters

    idx = index_folder(args.path)
    info, choice_warnings = select_series(idx, args.series)
    vol = load_series(plan_series(info))
    proposal = propose_diameters(vol, args.seed)
    result = proposal.to_json()
    result["warnings"] = [*choice_warnings, *vol.warnings, *result["warnings"]]
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"series       {result['series_uid']} ({info.description!r}, {info.phase.value})")
    print(
        f"seed         LPS {tuple(args.seed)} mm; liver reference {result['liver_reference_hu']} HU"
    )
    print(
        f"long axis    {result['long_axis_mm']:.1f} mm  {_fmt(result['long_axis_points_lps_mm'])}"
        f"  [slice {result['slice_index']}, SOP {result['sop_instance_uid']}]"
    )
    print(
        f"short axis   {result['short_axis_mm']:.1f} mm  {_fmt(result['short_axis_points_lps_mm'])}"
    )
    print(
        f"viable       {result['viable_long_axis_mm']:.1f} mm  {_fmt(result['viable_points_lps_mm'])}"
        f"  [slice {result['viable_slice_index']}]"
    )
    for w in result["warnings"]:
        print(f"warning      {w}")
    return 0
