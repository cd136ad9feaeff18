"""Store commands: ``init``, ``user add|list``, ``audit verify|list|adopt-key``, ``db``.

Global options (on the top-level parser): ``--db URL`` (default: ``READERSTATION_DB`` or the
embedded SQLite file ``var/readerstation.sqlite``) and ``--user NAME`` (default:
``READERSTATION_USER``). The acting user's password comes from ``READERSTATION_PASSWORD`` or a
prompt; a new user's password from ``READERSTATION_NEW_PASSWORD`` or a prompt (asked twice).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from readerstation.errors import AuthenticationError, StoreError
from readerstation.model.enums import UserRole

if TYPE_CHECKING:  # the store (SQLAlchemy, Alembic) is imported when a command runs
    from readerstation.store import Repository, Store

__all__ = ["register"]

PASSWORD_ENV = "READERSTATION_PASSWORD"
NEW_PASSWORD_ENV = "READERSTATION_NEW_PASSWORD"
USER_ENV = "READERSTATION_USER"


def _prompt(env: str, prompt: str, *, confirm: bool) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise StoreError(
            f"password: none given; set {env} or run the command in a terminal to be prompted."
        )
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("repeat: ") != first:
        raise StoreError("password: the two entries differ; run the command again.")
    return first


def _open(args: argparse.Namespace) -> Store:
    from readerstation.store import default_url, open_store

    return open_store(getattr(args, "db", None) or default_url())


def _login_with_password(args: argparse.Namespace, store: Store) -> tuple[Repository, str]:
    """The acting user's Repository and the password they gave (asked once; signing commands
    need it again)."""
    name = getattr(args, "user", None) or os.environ.get(USER_ENV)
    if not name:
        raise AuthenticationError(
            f"login: no user given; pass --user NAME (before the command) or set {USER_ENV}."
        )
    password = _prompt(PASSWORD_ENV, f"password for {name}: ", confirm=False)
    from readerstation.store import Repository

    return Repository.login(store, name, password), password


def _login(args: argparse.Namespace, store: Store) -> Repository:
    return _login_with_password(args, store)[0]


@contextmanager
def _logged_in(args: argparse.Namespace) -> Iterator[Repository]:
    """The acting user's Repository on the store at ``--db``, open for the ``with`` block."""
    with _open(args) as store:
        yield _login(args, store)


def _print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _cmd_init(args: argparse.Namespace) -> int:
    from readerstation.store import create_first_admin

    with _open(args) as store:
        password = _prompt(NEW_PASSWORD_ENV, f"new password for {args.admin}: ", confirm=True)
        create_first_admin(store, args.admin, password)
        print(f"store ready at {store.url} (schema {store.current_revision()}); admin {args.admin}")
        key = store.audit_keys.load(create=False)
        print(
            f"audit key {key.fingerprint} in {key.source}: keep it secret, back it up, and give "
            "every workstation of this store the same key"
        )
    return 0


def _cmd_user_add(args: argparse.Namespace) -> int:
    with _logged_in(args) as repo:
        password = _prompt(NEW_PASSWORD_ENV, f"new password for {args.name}: ", confirm=True)
        info = repo.add_user(args.name, args.role, password)
        print(f"user {info.name} added with role {info.role.value}")
    return 0


def _cmd_user_list(args: argparse.Namespace) -> int:
    with _logged_in(args) as repo:
        users = repo.list_users()
    if args.json:
        _print_json({"users": [u.to_dict() for u in users]})
    else:
        for u in users:
            print(f"{u.name}\t{u.role.value}\t{'active' if u.active else 'inactive'}")
    return 0


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    with _logged_in(args) as repo:
        result = repo.verify_audit()
    if args.json:
        _print_json(
            {
                "intact": result.intact,
                "n_events": result.n_events,
                "first_bad_seq": result.first_bad_seq,
                "reason": result.reason,
                "keyed_from_seq": result.keyed_from_seq,
                "key_fingerprint": result.key_fingerprint,
                "head_seq": result.head_seq,
                "head_hash": result.head_hash,
            }
        )
        return 0 if result.intact else 1
    if result.intact:
        print(f"audit trail intact: {result.n_events} events")
        return 0
    print(
        f"audit trail BROKEN at event {result.first_bad_seq}: {result.reason}",
        file=sys.stderr,
    )
    return 1


def _cmd_audit_adopt_key(args: argparse.Namespace) -> int:
    with _open(args) as store:
        seq = _login(args, store).adopt_audit_key()
        key = store.audit_keys.load(create=False)
    print(
        f"audit trail sealed at event {seq} with key {key.fingerprint} in {key.source}; give "
        "every workstation of this store the same key"
    )
    return 0


def _cmd_db_grant_app_role(args: argparse.Namespace) -> int:
    from readerstation.store import grant_app_role

    with _open(args) as store:
        for statement in grant_app_role(store, args.role):
            print(statement + ";")
    return 0


def _cmd_audit_list(args: argparse.Namespace) -> int:
    with _logged_in(args) as repo:
        records = repo.list_audit()
    if args.json:
        _print_json({"events": [r.to_dict() for r in records]})
    else:
        for r in records:
            print(
                f"{r.seq}\t{r.ts}\t{r.actor or '-'}\t{r.action}\t{r.entity_type}:"
                f"{r.entity_id or '-'}\t{r.outcome}\t{r.detail}"
            )
    return 0


def register(subparsers: Any) -> None:
    """Add the store commands to the top-level parser's sub-parsers."""
    p = subparsers.add_parser(
        "init",
        help="create (or upgrade) the store and its first admin",
        description="Create an empty store at --db (or upgrade its schema) and its first admin; "
        f"the admin's password comes from {NEW_PASSWORD_ENV} or a prompt.",
    )
    p.add_argument("--admin", required=True, metavar="NAME", help="name of the first admin")
    p.set_defaults(handler=_cmd_init)

    user = subparsers.add_parser("user", help="manage users (admin)")
    usub = user.add_subparsers(dest="user_command", metavar="ACTION")
    usub.required = True
    p = usub.add_parser(
        "add",
        help="add a user (admin only)",
        description=f"Add a user; the new password comes from {NEW_PASSWORD_ENV} or a prompt.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--role", required=True, choices=[r.value for r in UserRole])
    p.set_defaults(handler=_cmd_user_add)
    p = usub.add_parser("list", help="list users (admin only)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_cmd_user_list)

    audit = subparsers.add_parser("audit", help="the hash-chained audit trail (admin)")
    asub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    asub.required = True
    p = asub.add_parser(
        "verify",
        help="check the hash chain (exit 0 intact, 1 broken)",
        description="Recompute the audit chain; exit 0 and 'audit trail intact: N events', or "
        "exit 1 naming the first bad event. Needs the store's audit key.",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the result as JSON, with the key's fingerprint and the chain's head (seq and "
        "hash: record it outside the database to detect later removal of the last events)",
    )
    p.set_defaults(handler=_cmd_audit_verify)
    p = asub.add_parser(
        "adopt-key",
        help="seal a store written before keyed audit trails (admin, once)",
        description="Check the unkeyed chain, then seal it under the audit key (creating the key "
        "file when absent) with an audit.key.adopt event.",
    )
    p.set_defaults(handler=_cmd_audit_adopt_key)
    p = asub.add_parser("list", help="show every event, refusals included (admin only)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_cmd_audit_list)

    db = subparsers.add_parser("db", help="database administration (PostgreSQL)")
    dsub = db.add_subparsers(dest="db_command", metavar="ACTION")
    dsub.required = True
    p = dsub.add_parser(
        "grant-app-role",
        help="grant the workstations' role its rights (run as the database owner)",
        description="Grant ROLE what the workstations need on the store's schema and nothing "
        "that rewrites history (no UPDATE/DELETE on the audit trail, no TRUNCATE, not the "
        "owner); --db must connect as the owner. Run again after every upgrade.",
    )
    p.add_argument("role", metavar="ROLE")
    p.set_defaults(handler=_cmd_db_grant_app_role)
