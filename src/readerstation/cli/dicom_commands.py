"""Sub-commands of the dicom group: ``index`` (headers only) and ``info`` (load one series).

Contract (other tools rely on it):

* ``readerstation index PATH --json`` prints a JSON list of series objects (see
  :meth:`readerstation.dicom.SeriesInfo.to_json`).
* ``readerstation info PATH [--series UID] [--sample=X,Y,Z ...] --json`` loads one series and
  prints ``series_uid``, ``shape`` [z, y, x], ``spacing_mm`` [z, y, x], ``origin_lps_mm``,
  ``direction`` (3x3, columns = LPS unit vectors of x, y, z index), ``hu_min``, ``hu_max``,
  ``warnings``, ``slice_positions_mm`` for non-uniform stacks and ``samples`` for ``--sample``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from readerstation.cli._args import parse_lps_point

if TYPE_CHECKING:
    from readerstation.geometry import Volume


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``index`` and ``info`` to the top-level parser."""
    p_index = subparsers.add_parser(
        "index",
        help="list the studies and series under a folder (headers only)",
        description="Scan PATH by DICOM headers only and list its series with phase and geometry.",
    )
    p_index.add_argument("path", metavar="PATH", help="folder (scanned recursively) or file")
    p_index.add_argument("--json", action="store_true", help="print a JSON list of series")
    p_index.set_defaults(handler=run_index)

    p_info = subparsers.add_parser(
        "info",
        help="load one series and print its geometry and value range",
        description=(
            "Load one series of PATH into a volume and print shape, spacing, origin, direction "
            "and HU range. Coordinates for --sample are patient LPS mm, written --sample=X,Y,Z."
        ),
    )
    p_info.add_argument("path", metavar="PATH", help="folder (scanned recursively) or file")
    p_info.add_argument("--series", metavar="UID", help="SeriesInstanceUID to load")
    p_info.add_argument(
        "--sample",
        metavar="X,Y,Z",
        action="append",
        type=parse_lps_point,
        default=[],
        help="patient LPS point (mm) to sample; repeatable; write --sample=X,Y,Z",
    )
    p_info.add_argument("--json", action="store_true", help="print JSON")
    p_info.set_defaults(handler=run_info)


# ---------------------------------------------------------------------------------- index
def run_index(args: argparse.Namespace) -> int:
    """Handler of ``readerstation index``."""
    from readerstation.dicom import index_folder  # heavy (pydicom): import on use

    idx = index_folder(args.path)
    if args.json:
        print(json.dumps([s.to_json() for s in idx.series], indent=2))
        return 0
    print(f"{args.path}: {len(idx.series)} series ({len(idx.image_series())} image series)")
    header = (
        f"{'#':>3} {'mod':<4} {'phase':<13} {'images':>6} {'size':>9} {'pixel mm':>13} "
        f"{'thick':>6}  description / SeriesInstanceUID"
    )
    print(header)
    print("-" * len(header))
    for s in idx.series:
        size = f"{s.rows}x{s.columns}" if s.rows else "-"
        px = (
            f"{s.pixel_spacing_mm[0]:.3f}x{s.pixel_spacing_mm[1]:.3f}"
            if s.pixel_spacing_mm
            else "-"
        )
        thick = f"{s.slice_thickness_mm:g}" if s.slice_thickness_mm is not None else "-"
        number = str(s.series_number) if s.series_number is not None else "-"
        kind = s.phase.value if s.is_image else "(non-image)"
        print(
            f"{number:>3} {s.modality:<4} {kind:<13} {s.n_images:>6} {size:>9} {px:>13} "
            f"{thick:>6}  {s.description or '(no description)'}"
        )
        print(f"{'':>58}{s.series_uid}")
        for w in s.warnings:
            print(f"{'':>6}warning: {w}")
    skipped = {k: v for k, v in idx.skipped.items() if v}
    if skipped:
        print(f"skipped: {skipped}")
    for line in idx.problems:
        print(f"problem: {line}")
    return 0


# ---------------------------------------------------------------------------------- info
def _sample(vol: Volume, point: tuple[float, float, float]) -> tuple[dict[str, Any], str | None]:
    from readerstation.errors import GeometryError

    try:
        z, y, x = vol.nearest_index(point)
    except GeometryError as exc:
        return {"point_lps_mm": list(point), "index_zyx": None, "hu": None}, str(exc)
    value = vol.array[z, y, x]
    return {
        "point_lps_mm": list(point),
        "index_zyx": [z, y, x],
        "hu": float(value) if np.issubdtype(vol.array.dtype, np.floating) else int(value),
    }, None


def run_info(args: argparse.Namespace) -> int:
    """Handler of ``readerstation info``."""
    from readerstation.dicom import index_folder, load_series, plan_series, select_series
    from readerstation.errors import DicomError

    idx = index_folder(args.path)
    info, choice_warnings = select_series(idx, args.series)
    plan = plan_series(info)
    vol = load_series(plan)
    warnings_out = [*choice_warnings, *vol.warnings]
    if idx.problems:
        warnings_out.append(
            f"{len(idx.problems)} file(s) under {args.path} were unreadable, e.g. {idx.problems[0]}"
        )
    if vol.array.size == 0:
        raise DicomError(f"Series {info.series_uid} has no voxels")
    result: dict[str, Any] = {
        "series_uid": vol.series_uid,
        "study_uid": vol.study_uid,
        "modality": vol.modality,
        "description": info.description,
        "phase": info.phase.value,
        "shape": list(vol.shape),
        "spacing_mm": list(vol.spacing),
        "origin_lps_mm": list(vol.origin),
        "direction": np.asarray(vol.direction).tolist(),
        "dtype": str(vol.array.dtype),
        "hu_min": float(vol.array.min()),
        "hu_max": float(vol.array.max()),
        "uniform": vol.is_uniform,
        "frame_of_reference_uid": vol.frame_of_reference_uid,
        "warnings": warnings_out,
    }
    if not vol.is_uniform:
        result["slice_positions_mm"] = np.asarray(vol.slice_positions).tolist()
    if args.sample:
        samples = []
        for point in args.sample:
            entry, problem = _sample(vol, point)
            samples.append(entry)
            if problem:
                warnings_out.append(problem)
        result["samples"] = samples
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    out = sys.stdout
    print(
        f"series     {result['series_uid']} ({result['modality']}, {info.description!r})", file=out
    )
    print(f"phase      {result['phase']}", file=out)
    print(f"shape      z, y, x = {tuple(result['shape'])}  ({result['dtype']})", file=out)
    print(f"spacing    z, y, x = {tuple(round(s, 4) for s in vol.spacing)} mm", file=out)
    print(f"origin     LPS {tuple(round(o, 3) for o in vol.origin)} mm", file=out)
    d = np.asarray(vol.direction)
    for name, col in (("x (column)", 0), ("y (row)", 1), ("z (slice)", 2)):
        print(f"direction  {name:<10} -> LPS {tuple(round(float(v), 4) for v in d[:, col])}")
    print(f"values     {result['hu_min']:g} .. {result['hu_max']:g}", file=out)
    if not vol.is_uniform:
        offsets = vol.slice_offsets_mm
        print(
            f"slices     non-uniform: offsets along the normal {offsets.round(2).tolist()} mm",
            file=out,
        )
    for s in result.get("samples", []):
        print(
            f"sample     LPS {tuple(s['point_lps_mm'])} -> index {s['index_zyx']} value {s['hu']}"
        )
    for w in warnings_out:
        print(f"warning    {w}", file=out)
    return 0
