"""Sub-commands of the ``sample`` group: the synthetic sample trial.

``readerstation sample generate --out DIR [--subjects N] [--force] [--small]`` writes whatever is
missing of the trial (idempotent and cheap when everything is there) and prints one summary line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from readerstation.errors import SampleDataError


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this group's sub-commands to the top-level parser."""
    group = subparsers.add_parser(
        "sample", help="the synthetic sample trial (multi-phase liver CT with ground truth)"
    )
    sub = group.add_subparsers(dest="sample_command", metavar="SUBCOMMAND")
    sub.required = True
    gen = sub.add_parser(
        "generate",
        help="write the sample trial (only what is missing)",
        description=(
            "Write the synthetic 3-subject, 4-timepoint, 3-phase liver CT trial with its ground "
            "truth and response-engine timelines. Series already complete are left alone."
        ),
    )
    gen.add_argument("--out", type=Path, required=True, help="output folder, e.g. sample_dicom")
    gen.add_argument(
        "--subjects", type=int, default=3, metavar="N", help="number of subjects, 1..3 (default 3)"
    )
    gen.add_argument("--force", action="store_true", help="rewrite every series")
    gen.add_argument(
        "--small",
        action="store_true",
        help="reduced grid (96x96 at 4 mm, 5 mm slices) for tests; do not mix with a full trial",
    )
    gen.add_argument(
        "--workers", type=int, default=None, help="processes to use (default: up to 2)"
    )
    gen.set_defaults(handler=_generate)
    dual = sub.add_parser(
        "dual-reads",
        help="write the simulated 45-subject two-reader trial as reads JSON",
        description=(
            "Write both readers' signed reads (reader1, reader2; subjects SIM-001...SIM-045) of "
            "the simulated dual-read trial, for 'readerstation reads import'."
        ),
    )
    dual.add_argument("--out", type=Path, required=True, help="output file, e.g. dual_reads.json")
    dual.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    dual.set_defaults(handler=_dual_reads)


def _generate(args: argparse.Namespace) -> int:
    from readerstation.sample.trial import DEFAULT_GRID, SMALL_GRID, generate_trial

    if args.workers is not None and args.workers < 1:
        raise SampleDataError(f"--workers must be >= 1; received {args.workers}.")
    summary = generate_trial(
        args.out,
        n_subjects=args.subjects,
        force=args.force,
        grid=SMALL_GRID if args.small else DEFAULT_GRID,
        workers=args.workers,
    )
    print(summary)
    return 0


def _dual_reads(args: argparse.Namespace) -> int:
    import json

    from readerstation.sample.dual_trial import derive_dual_trial

    trial = derive_dual_trial(args.seed)
    args.out.write_text(json.dumps(trial.reads_json, indent=1) + "\n", encoding="utf-8")
    n = sum(len(e["timepoints"]) for e in trial.reads_json["reads"])
    print(f"wrote {n} signed timepoint reads of {len(trial.cases)} subjects to {args.out}")
    return 0
