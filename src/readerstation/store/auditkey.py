"""The audit trail's secret key: where it comes from, how it is created, how it is checked.

Each audit event's hash is an HMAC-SHA256 under a key that does not live in the database, so
someone who can rewrite the database (its owner, a stolen backup) but does not hold the key cannot
re-chain edited events: ``audit verify`` with the key detects it.

Where the key comes from, first match wins:

1. ``READERSTATION_AUDIT_KEY``: the key itself, hex (64 hex digits) or base64, at least 32 bytes;
2. ``READERSTATION_AUDIT_KEY_FILE``: a file holding the key in the same text form;
3. the default key file: ``<database file>.audit-key`` beside a SQLite file, and
   ``var/audit-<host>-<port>-<database>.key`` under the current folder for a server database.

A missing default (or ``READERSTATION_AUDIT_KEY_FILE``) file is created, with mode 0600, only when
the chain is still empty (``readerstation init`` and the first write of a new store) or when an
admin adopts a key for a store written before keyed audit trails; a store whose chain has events
and no key is refused with a message naming the variables. Every workstation of a multi-site
store needs the same key: copy the file (or set the variable) on each.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from readerstation.errors import StoreError

__all__ = [
    "AUDIT_KEY_BYTES",
    "AUDIT_KEY_ENV",
    "AUDIT_KEY_FILE_ENV",
    "AuditKey",
    "AuditKeySource",
    "default_key_path",
    "from_key_text",
    "save_new_key_file",
]

AUDIT_KEY_ENV = "READERSTATION_AUDIT_KEY"
"""Environment variable holding the key itself (hex or base64)."""

AUDIT_KEY_FILE_ENV = "READERSTATION_AUDIT_KEY_FILE"
"""Environment variable naming the key file."""

AUDIT_KEY_BYTES = 32
"""Length of a new key and the shortest key accepted (bytes; 256 bits, SHA-256's block half)."""

_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True, slots=True)
class AuditKey:
    """A secret HMAC key and where it came from (its repr never shows the secret).

    Attributes
    ----------
    secret : bytes
        At least :data:`AUDIT_KEY_BYTES` bytes.
    source : str
        For people: ``"$READERSTATION_AUDIT_KEY"`` or the key file's path.
    """

    secret: bytes = field(repr=False)
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes) or len(self.secret) < AUDIT_KEY_BYTES:
            n = len(self.secret) if isinstance(self.secret, bytes) else "no"
            raise StoreError(
                f"audit key ({self.source or 'given'}): expected at least {AUDIT_KEY_BYTES} bytes, "
                f"received {n} bytes; generate one with "
                "python -c 'import secrets; print(secrets.token_hex(32))'."
            )

    @property
    def fingerprint(self) -> str:
        """First 16 hex digits of SHA-256 of the key: names a key without revealing it."""
        return hashlib.sha256(b"readerstation audit key\x00" + self.secret).hexdigest()[:16]

    def compute_mac(self, message: str) -> str:
        """HMAC-SHA256 (hex) of ``message`` (UTF-8) under this key."""
        return hmac.new(self.secret, message.encode("utf-8"), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"AuditKey(fingerprint={self.fingerprint}, source={self.source!r})"


def from_key_text(text: str, *, source: str) -> AuditKey:
    """The key written as text: hex digits, else base64 (standard or URL-safe); spaces ignored.

    Raises
    ------
    StoreError
        Neither hex nor base64, or shorter than :data:`AUDIT_KEY_BYTES` bytes.
    """
    s = "".join(text.split())
    secret: bytes | None = None
    if s and len(s) % 2 == 0 and _HEX.fullmatch(s):
        secret = bytes.fromhex(s)
    else:
        try:
            secret = base64.b64decode(s.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            secret = None
    if not secret:
        raise StoreError(
            f"audit key ({source}): expected hex digits or base64 text, received something else; "
            "write the key as 64 hex digits."
        )
    return AuditKey(secret, source)


def default_key_path(url: str | URL) -> Path:
    """The default key file of the store at ``url``.

    ``<file>.audit-key`` beside a SQLite file; ``var/audit-<host>-<port>-<database>.key`` under
    the current folder for a server database (one key per database, whatever the schema).
    """
    u = make_url(url) if isinstance(url, str) else url
    if u.get_backend_name() == "sqlite":
        return Path(f"{u.database}.audit-key")
    name = "-".join(
        re.sub(r"[^A-Za-z0-9_.]", "_", str(part))
        for part in (u.get_backend_name(), u.host or "local", u.port or "default", u.database)
    )
    return Path("var") / f"audit-{name}.key"


def save_new_key_file(path: Path) -> AuditKey:
    """Create ``path`` with a new random key (mode 0600), or load it if another process won.

    The key is written to a temporary file that is then hard-linked to ``path``: creation is
    atomic, so processes opening a new store at the same moment all end up with one key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(AUDIT_KEY_BYTES) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key_file(path)


def _read_key_file(path: Path) -> AuditKey:
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError:
        raise StoreError(
            f"audit key file {path}: expected the key as hex or base64 text; rewrite it."
        ) from None
    return from_key_text(text, source=str(path))


class AuditKeySource:
    """Finds (and, for a new chain, creates) the audit key of one store; caches it.

    Parameters
    ----------
    url : str or URL
        The store's URL (for the default key file).
    key : AuditKey or None
        A key given in code; takes precedence over the environment and the files.
    """

    def __init__(self, url: str | URL, key: AuditKey | None = None) -> None:
        self._url = url
        self._given = key
        self._key: AuditKey | None = key
        self._lock = threading.Lock()
        self.checked = False
        """True once the key was checked against this store's chain (set by the audit module)."""

    def key_path(self) -> Path | None:
        """The key file that is read (None when the key comes from code or the variable)."""
        if self._given is not None or os.environ.get(AUDIT_KEY_ENV):
            return None
        env = os.environ.get(AUDIT_KEY_FILE_ENV)
        return Path(env) if env else default_key_path(self._url)

    def find(self) -> AuditKey | None:
        """The key if one is configured or its file exists, else None (never creates)."""
        if self._key is not None:
            return self._key
        env = os.environ.get(AUDIT_KEY_ENV)
        if env:
            found = from_key_text(env, source=f"${AUDIT_KEY_ENV}")
        else:
            path = self.key_path()
            if path is None or not path.is_file():
                return None
            found = _read_key_file(path)
        self._key = found
        return found

    def load(self, *, create: bool) -> AuditKey:
        """The key; with ``create``, a missing key file is created (mode 0600).

        Raises
        ------
        StoreError
            No key configured and ``create`` is False.
        """
        with self._lock:
            found = self.find()
            if found is not None:
                return found
            path = self.key_path()
            if create and path is not None:
                self._key = save_new_key_file(path)
                return self._key
            raise StoreError(
                f"audit key: none found for this store (set ${AUDIT_KEY_ENV}, or "
                f"${AUDIT_KEY_FILE_ENV}, or restore the key file {path}). The audit trail is "
                "sealed with a secret key kept outside the database; every workstation needs "
                "the same key. A store written before keyed audit trails is sealed once by an "
                "admin: readerstation audit adopt-key."
            )

    def __repr__(self) -> str:
        return f"AuditKeySource(key={self._key!r}, file={self.key_path()})"
