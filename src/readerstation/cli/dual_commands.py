"""Dual reading commands: ``assign``, ``reads import|export``, ``worklist``, ``charter``,
``discrepancies``, ``adjudication packet``, ``adjudicate``, ``agreement``, ``accepted``.

Every command logs in as ``--user`` (password from ``READERSTATION_PASSWORD`` or a prompt) and
goes through the Repository, which checks roles and blinding and audits refusals; a refusal is
one line on stderr and exit code 2. Heavy modules (SQLAlchemy, the engine) are imported inside
the handlers so that ``readerstation --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from readerstation.cli.store_commands import (
    _logged_in,
    _login_with_password,
    _open,
    _print_json,
)
from readerstation.errors import StoreError

__all__ = ["register"]

CRITERIA_CHOICES = ("recist1.1", "mrecist")
REASONS = (
    "lesion_selection",
    "measurement_variability",
    "new_lesion_call",
    "non_target_progression",
    "image_quality",
    "reader_error",
)


def _cmd_assign(args: argparse.Namespace) -> int:
    with _logged_in(args) as repo:
        new = repo.assign_balanced(args.subjects or None, args.readers or None)
        everything = repo.list_assignments()
    if args.json:
        _print_json(
            {"new": [a.to_dict() for a in new], "assignments": [a.to_dict() for a in everything]}
        )
        return 0
    for a in new:
        print(f"{a.subject}\tslot {a.slot}\t{a.reader}")
    load: dict[str, int] = {}
    for a in everything:
        load[a.reader] = load.get(a.reader, 0) + 1
    loads = ", ".join(f"{r} {n}" for r, n in sorted(load.items()))
    print(f"{len(new)} new assignments; subjects per reader: {loads or 'none'}")
    return 0


def _cmd_reads_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise StoreError(
            f"reads import: {path} is not JSON ({exc}); give a reads JSON file."
        ) from None
    with _logged_in(args) as repo:
        report = repo.import_reads(data)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report)
    return 0


def _cmd_reads_export(args: argparse.Namespace) -> int:
    with _logged_in(args) as repo:
        data = repo.export_reads_json(args.subject)
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        n = sum(len(e["timepoints"]) for e in data["reads"])
        print(
            f"wrote {n} signed timepoint reads ({len(data['reads'])} subject reads) to {args.out}"
        )
    else:
        sys.stdout.write(text)
    return 0


def _cmd_worklist(args: argparse.Namespace) -> int:
    with _logged_in(args) as repo:
        items = repo.worklist(args.subject)
    if args.json:
        _print_json({"worklist": [w.to_dict() for w in items]})
        return 0
    for w in items:
        date = "" if w.scan_date is None else w.scan_date.isoformat()
        print(f"{w.subject}\t{w.display_label}\t{w.label}\t{date}\t{w.status}")
    return 0


def _cmd_charter_show(args: argparse.Namespace) -> int:
    with _logged_in(args) as repo:
        charter = repo.get_charter()
    if args.json:
        _print_json(charter.to_dict())
    else:
        d = charter.to_dict()
        print(f"variables: {', '.join(d['variables'])}")
        print(f"criteria: {', '.join(d['criteria'])}")
        print(f"accepted when readers agree: slot {d['default_accepted_slot']}")
        print(f"visit dates hidden from readers: {'yes' if d['hide_visit_dates'] else 'no'}")
    return 0


def _cmd_charter_set(args: argparse.Namespace) -> int:
    from readerstation.reading.charter import Charter

    kwargs: dict[str, Any] = {
        "default_accepted_slot": args.default_slot,
        "hide_visit_dates": args.hide_visit_dates,
    }
    if args.variables:
        kwargs["variables"] = tuple(v.strip() for v in args.variables.split(",") if v.strip())
    if args.criteria:
        kwargs["criteria"] = tuple(c.strip() for c in args.criteria.split(",") if c.strip())
    charter = Charter(**kwargs)
    with _logged_in(args) as repo:
        repo.set_charter(charter)
    print(f"charter set: {json.dumps(charter.to_dict())}")
    return 0


def _cmd_discrepancies(args: argparse.Namespace) -> int:
    with _logged_in(args) as repo:
        found = repo.list_discrepancies(args.status)
    if args.json:
        _print_json([d.to_dict() for d in found])
        return 0
    for d in found:
        kinds = ", ".join(sorted({c["kind"] for c in d.causes})) or "-"
        print(f"{d.subject}\t{d.criteria}\t{d.status}\t{', '.join(d.variables)}\tcauses: {kinds}")
    print(f"{len(found)} discrepancies")
    return 0


def _target_size(lesion: Mapping[str, Any]) -> str:
    """A target's size as the criteria sum it: a node's short axis, else the long axis (mm);
    the state word when it was not measured."""
    if lesion["state"] != "measured":
        return str(lesion["state"])
    return f"{lesion['short_axis_mm' if lesion['nodal'] else 'long_axis_mm']}"


def _cmd_packet(args: argparse.Namespace) -> int:
    with _logged_in(args) as repo:
        packet = repo.adjudication_packet(args.subject)
    if args.json:
        _print_json(packet)
        return 0
    print(f"subject {packet['subject']}: Read A and Read B (order drawn for this subject)")
    for letter in ("A", "B"):
        tps = packet["reads"][letter]["timepoints"]
        line = "; ".join(
            f"{t['label']} "
            + (
                "+".join(
                    f"{les['lesion']} {_target_size(les)}"
                    for les in t["lesions"]
                    if les["role"] == "target"
                )
                or "-"
            )
            + (f" new:{t['new_lesions']}" if t["new_lesions"] != "none" else "")
            for t in tps
        )
        print(f"  Read {letter}: {line}")
    for name, c in packet["criteria"].items():
        bor = {k: v["best_overall_response"] for k, v in c["results"].items()}
        state = c["status"] or "agree"
        print(
            f"  {name}: {state}; differs on {', '.join(c['variables']) or 'nothing'}; BOR A "
            f"{bor['A']} vs B {bor['B']}"
        )
        for cause in c["causes"]:
            print(f"    - {cause['kind']} at {cause['timepoint']}: {cause['detail']}")
        if c["adjudication"]:
            a = c["adjudication"]
            print(f"    adjudicated: Read {a['endorsed']} endorsed ({a['reason']})")
    return 0


def _cmd_adjudicate(args: argparse.Namespace) -> int:
    with _open(args) as store:
        repo, password = _login_with_password(args, store)
        info = repo.adjudicate(
            args.subject, args.criteria, args.endorse, args.reason, args.note, password=password
        )
    print(
        f"{info.subject} {info.criteria}: Read {info.endorsed} endorsed ({info.reason}); signed "
        f"{info.signed_at.isoformat()}"
    )
    return 0


def _cmd_agreement(args: argparse.Namespace) -> int:
    with _logged_in(args) as repo:
        report = repo.agreement()
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.to_text())
    return 0


def _cmd_accepted_list(args: argparse.Namespace) -> int:
    with _logged_in(args) as repo:
        accepted = repo.accepted_reads(args.criteria)
    if args.json:
        _print_json({"accepted": [a.to_dict() for a in accepted]})
        return 0
    for a in accepted:
        print(f"{a.subject}\t{a.criteria}\tslot {a.reader_slot}\t{a.basis}")
    print(f"{len(accepted)} accepted reads")
    return 0


def _cmd_accepted_summary(args: argparse.Namespace) -> int:
    with _logged_in(args) as repo:
        summary = repo.accepted_summary(args.criteria)
        assigned = {a.subject for a in repo.list_assignments()}
        accepted = {a.subject for a in repo.accepted_reads(args.criteria)}
    data = summary.to_json()
    # subjects left out (not yet read twice, or their comparison failed): said, never silent
    left_out = sorted(assigned - accepted)
    data["subjects_without_accepted_read"] = left_out
    if left_out:
        print(
            f"readerstation accepted summary: note: {len(left_out)} assigned subject(s) have no "
            f"accepted {args.criteria} read yet and are not in the summary: "
            + ", ".join(left_out[:10])
            + (" ..." if len(left_out) > 10 else ""),
            file=sys.stderr,
        )
    if args.json:
        _print_json(data)
        return 0
    counts = ", ".join(f"{k} {v}" for k, v in data["counts"].items())
    print(f"{data['criteria']} (accepted reads): n = {data['n']}; {counts}")
    for key in ("orr", "dcr"):
        p = data[key]
        if p["proportion"] is None:
            print(f"{key.upper()} n/a")
            continue
        lo, hi = p["ci95"]
        print(
            f"{key.upper()} {p['n']}/{data['n']} = {p['proportion']:.1%} (95% CI {lo:.1%}-{hi:.1%})"
        )
    pfs = data.get("pfs")
    if pfs is not None:
        median = pfs["median_months"]
        print("PFS median " + ("not reached" if median is None else f"{median} months"))
    return 0


def _criteria_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--criteria", required=True, choices=CRITERIA_CHOICES)


def register(subparsers: Any) -> None:
    """Add the dual-reading commands to the top-level parser's sub-parsers."""
    p = subparsers.add_parser(
        "assign",
        help="give every subject two readers from the pool, balanced (admin)",
        description="Assign every subject that has fewer than two readers to two different "
        "readers, balancing subjects per reader and slot-1 counts (deterministic).",
    )
    p.add_argument("--subjects", nargs="*", metavar="CODE", help="only these subjects")
    p.add_argument("--readers", nargs="*", metavar="NAME", help="the pool (default: all readers)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_cmd_assign)

    reads = subparsers.add_parser("reads", help="import or export reads (reads JSON format)")
    rsub = reads.add_subparsers(dest="reads_command", metavar="ACTION")
    rsub.required = True
    p = rsub.add_parser(
        "import",
        help="import signed reads from a reads JSON file (admin)",
        description="Import signed reads (subjects, timepoints and assignments are created when "
        "missing); completed subjects are compared on the charter variables.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the import report as JSON")
    p.set_defaults(handler=_cmd_reads_import)
    p = rsub.add_parser(
        "export",
        help="write signed reads as reads JSON (admin: all; reader: own)",
        description="Write the latest signed version of every read you may see; stdout by "
        "default. A reader gets only their own reads (without dates when the charter hides them).",
    )
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("--subject", metavar="CODE", help="only this subject")
    p.set_defaults(handler=_cmd_reads_export)

    p = subparsers.add_parser(
        "worklist",
        help="your timepoints and their status: locked, todo, draft, signed (reader)",
    )
    p.add_argument("--subject", metavar="CODE", help="only this subject")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_cmd_worklist)

    charter = subparsers.add_parser("charter", help="the reading charter (dual reading rules)")
    csub = charter.add_subparsers(dest="charter_command", metavar="ACTION")
    csub.required = True
    p = csub.add_parser("show", help="print the charter (any user)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_cmd_charter_show)
    p = csub.add_parser(
        "set",
        help="set the charter before any read (admin)",
        description="Set the charter; refused once the store holds a read. Setting it also "
        "gates drafts: a reader saves timepoint k only after signing timepoint k-1.",
    )
    p.add_argument(
        "--variables",
        metavar="V,V",
        help="adjudication variables from best_overall_response, progression_date, "
        "response_date, timepoint_response (default: the first three)",
    )
    p.add_argument("--criteria", metavar="C,C", help="recist1.1,mrecist (default both)")
    p.add_argument(
        "--default-slot",
        type=int,
        default=1,
        choices=(1, 2),
        help="whose read is accepted when the readers agree (default 1)",
    )
    p.add_argument(
        "--hide-visit-dates",
        action="store_true",
        help="readers see TP0, TP1... and no dates",
    )
    p.set_defaults(handler=_cmd_charter_set)

    p = subparsers.add_parser(
        "discrepancies",
        help="subjects and criteria needing adjudication (admin, adjudicator)",
    )
    p.add_argument("--status", choices=("open", "resolved", "superseded"), default=None)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_cmd_discrepancies)

    adj = subparsers.add_parser("adjudication", help="blinded adjudication packets")
    asub = adj.add_subparsers(dest="adjudication_command", metavar="ACTION")
    asub.required = True
    p = asub.add_parser(
        "packet",
        help="both reads as Read A / Read B with results and causes (adjudicator)",
    )
    p.add_argument("subject", metavar="SUBJECT")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_cmd_packet)

    p = subparsers.add_parser(
        "adjudicate",
        help="endorse Read A or B for a criteria and sign (adjudicator)",
        description="Endorse one read of an open discrepancy; the password given to log in "
        "signs the adjudication, which is immutable.",
    )
    p.add_argument("subject", metavar="SUBJECT")
    _criteria_arg(p)
    p.add_argument("--endorse", required=True, choices=("A", "B"))
    p.add_argument("--reason", required=True, choices=REASONS)
    p.add_argument("--note", default="", metavar="TEXT", help="free text")
    p.set_defaults(handler=_cmd_adjudicate)

    p = subparsers.add_parser(
        "agreement",
        help="adjudication rate, kappa, ICC, Bland-Altman, per-reader RDI (admin, adjudicator)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_cmd_agreement)

    acc = subparsers.add_parser("accepted", help="the accepted reads and their summary (admin)")
    accsub = acc.add_subparsers(dest="accepted_command", metavar="ACTION")
    accsub.required = True
    p = accsub.add_parser("list", help="the accepted read of every subject (slot and basis)")
    _criteria_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_cmd_accepted_list)
    p = accsub.add_parser(
        "summary",
        help="the response engine's trial summary of the accepted reads",
        description="Counts, ORR, DCR, TTR, DOR, PFS of the accepted reads (refused while "
        "discrepancies of the criteria are open).",
    )
    _criteria_arg(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(handler=_cmd_accepted_summary)
