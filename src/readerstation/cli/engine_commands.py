"""Sub-commands of the response engine: ``response``, ``summary``, ``plots``.

The JSON printed by ``response --json`` and ``summary --json`` is a contract other tools script
against (see docs/response-engine.md). Everything is computed before anything is printed, so an
invalid input gives one error line, exit code 2, and no partial output.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from readerstation.criteria.params import ResponseCriteria
    from readerstation.engine.subject import SubjectResult


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``response``, ``summary`` and ``plots`` to the top-level parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("timeline", help="timeline.json (see docs/response-engine.md)")
    common.add_argument(
        "--criteria",
        required=True,
        choices=["recist1.1", "mrecist"],
        help="response criteria: RECIST 1.1 or mRECIST (Lencioni & Llovet 2010)",
    )
    common.add_argument(
        "--confirm-days",
        type=int,
        default=None,
        metavar="N",
        help="days from a CR/PR to its confirming assessment, inclusive (default 28)",
    )
    common.add_argument(
        "--sd-min-days",
        type=int,
        default=None,
        metavar="N",
        help="SD counts only at an assessment >= N days after treatment start (default 35)",
    )

    p = subparsers.add_parser(
        "response",
        parents=[common],
        help="timepoint and subject responses (BOR, TTR, DOR, PFS)",
        description="Derive timepoint responses and per-subject results from a timeline.",
    )
    p.add_argument("--json", action="store_true", help='print {"subjects": [...]} as JSON')
    p.set_defaults(handler=_run_response)

    s = subparsers.add_parser(
        "summary",
        parents=[common],
        help="trial summary: counts, ORR, DCR, TTR, DOR, PFS, OS",
        description="Summarise a trial's responses and survival endpoints.",
    )
    s.add_argument(
        "--dcr-sd-min-days",
        type=int,
        default=None,
        metavar="N",
        help="SD counts for disease control if it lasted N days from treatment start "
        "(default: --sd-min-days)",
    )
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.set_defaults(handler=_run_summary)

    q = subparsers.add_parser(
        "plots",
        parents=[common],
        help="waterfall, spider, swimmer and Kaplan-Meier plots",
        description="Write the plots of a trial report as PNG, SVG and PDF.",
    )
    q.add_argument("--dcr-sd-min-days", type=int, default=None, metavar="N", help=argparse.SUPPRESS)
    q.add_argument("--out", required=True, help="output folder")
    q.add_argument("--formats", default="png,svg,pdf", help="comma-separated: png,svg,pdf")
    q.set_defaults(handler=_run_plots)


def _criteria(args: argparse.Namespace) -> ResponseCriteria:
    from readerstation.criteria.params import criteria_from_name

    return criteria_from_name(
        args.criteria,
        confirm_days=args.confirm_days,
        sd_min_days=args.sd_min_days,
        dcr_sd_min_days=getattr(args, "dcr_sd_min_days", None),
    )


def _results(args: argparse.Namespace) -> tuple[ResponseCriteria, Any, list[SubjectResult]]:
    # heavy (lifelines, statsmodels): imported on use, so `--help` stays fast
    from readerstation.engine.model import load_timeline
    from readerstation.engine.trial import derive_subject_responses

    criteria = _criteria(args)
    timeline = load_timeline(args.timeline)
    return criteria, timeline, derive_subject_responses(timeline, criteria)


def _run_response(args: argparse.Namespace) -> int:
    _, _, results = _results(args)
    if args.json:
        # one line: the C encoder (indentation would fall back to the slow pure-Python one)
        text = json.dumps({"subjects": [r.to_json() for r in results]})
    else:
        lines = [
            f"{'subject':<12} {'BOR':<14} {'BOR unconf.':<14} {'TTR d':>6} {'DOR d':>6} "
            f"{'PFS d':>6} {'event':>5} {'best %':>7}"
        ]
        for r in results:
            best = r.max_change_from_baseline_pct
            lines.append(
                f"{r.subject:<12} {r.best_overall_response.value:<14} "
                f"{r.best_overall_response_unconfirmed.value:<14} "
                f"{'' if r.time_to_response_days is None else r.time_to_response_days:>6} "
                f"{'' if r.duration_of_response_days is None else r.duration_of_response_days:>6} "
                f"{r.pfs_days:>6} {'yes' if r.pfs_event else 'no':>5} "
                f"{'' if best is None else f'{best:.1f}':>7}"
            )
        text = "\n".join(lines)
    sys.stdout.write(text + "\n")
    return 0


def _run_summary(args: argparse.Namespace) -> int:
    from readerstation.engine.trial import derive_trial_summary

    criteria, timeline, results = _results(args)
    summary = derive_trial_summary(results, criteria, timeline=timeline)
    data = summary.to_json()
    if args.json:
        text = json.dumps(data, indent=1)
    else:

        def pct(p: dict[str, Any]) -> str:
            if p["proportion"] is None:
                return "n/a"
            lo, hi = p["ci95"]
            return (
                f"{p['n']}/{data['n']} = {p['proportion']:.1%} (95% CI {lo:.1%}-{hi:.1%}; "
                f"one-sided 90% lower {p['ci90_lower']:.1%})"
            )

        def surv(name: str, d: dict[str, Any] | None) -> str:
            if d is None:
                return f"{name}: no survival dates"
            lo, hi = (_nr(x) for x in d["median_ci95"])
            rates = ", ".join(
                f"{m} mo {v['rate']:.1%}" for m, v in d["rates"].items() if v["rate"] is not None
            )
            return (
                f"{name}: median {_nr(d['median_months'])} months (95% CI {lo}-{hi}); "
                f"rates: {rates or 'past follow-up'}"
            )

        counts = ", ".join(f"{k} {v}" for k, v in data["counts"].items())
        text = "\n".join(
            [
                f"{data['criteria']}: n = {data['n']}; {counts}",
                f"ORR {pct(data['orr'])}",
                f"DCR {pct(data['dcr'])}",
                surv("PFS", data["pfs"]),
                surv("OS", data["os"]),
            ]
        )
    sys.stdout.write(text + "\n")
    return 0


def _nr(x: float | None) -> str:
    """A month value, or NR (not reached / not estimable)."""
    return "NR" if x is None else f"{x:g}"


def _run_plots(args: argparse.Namespace) -> int:
    from readerstation.engine.plots import save_trial_plots
    from readerstation.engine.trial import derive_trial_summary

    criteria, timeline, results = _results(args)
    summary = derive_trial_summary(results, criteria, timeline=timeline)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    paths = save_trial_plots(results, summary, args.out, formats=formats)
    for p in paths:
        sys.stdout.write(f"{p}\n")
    return 0
