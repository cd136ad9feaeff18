"""The ``readerstation`` command line.

Each group of commands lives in its own module with a ``register(subparsers)`` function that adds
its sub-commands; every sub-command's handler takes the parsed ``argparse.Namespace`` and returns
an exit code. Errors derived from :class:`readerstation.errors.ReaderstationError` are printed as
one line on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from readerstation import __version__
from readerstation.errors import ReaderstationError

# Modules that contribute sub-commands (each defines ``register(subparsers)``).
_COMMAND_MODULES: tuple[str, ...] = (
    "readerstation.cli.dicom_commands",
    "readerstation.cli.sample_commands",
    "readerstation.cli.engine_commands",
    "readerstation.cli.store_commands",
    "readerstation.cli.dual_commands",
    "readerstation.cli.measure_commands",
    "readerstation.cli.pacs_commands",
    "readerstation.cli.export_commands",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="readerstation",
        description="Reading workstation for liver-cancer trials (RECIST 1.1 / mRECIST).",
    )
    parser.add_argument("--version", action="version", version=f"readerstation {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="store URL (SQLAlchemy; default: $READERSTATION_DB or sqlite:///var/readerstation.sqlite)",
    )
    parser.add_argument(
        "--user",
        metavar="NAME",
        default=None,
        help="acting user (default: $READERSTATION_USER); password from $READERSTATION_PASSWORD "
        "or a prompt",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``readerstation`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except BrokenPipeError:
        # the reader of our output stopped early (`... | head`): not an error to report
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except ReaderstationError as exc:
        print(f"readerstation {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, KeyboardInterrupt) as exc:
        print(f"readerstation {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
