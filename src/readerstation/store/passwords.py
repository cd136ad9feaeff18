"""Password hashing with argon2id, a memory-hard key derivation function (RFC 9106)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from readerstation.errors import ModelError

__all__ = ["PASSWORD_MIN_LENGTH", "KdfParams", "check_password_policy", "dummy_hash"]

PASSWORD_MIN_LENGTH = 8
"""Shortest password accepted (characters)."""


@dataclass(frozen=True, slots=True)
class KdfParams:
    """argon2id parameters.

    Attributes
    ----------
    time_cost : int
        Passes over memory. 3 (RFC 9106 second recommended option; argon2-cffi default).
    memory_kib : int
        Memory per hash in KiB. 65536 (64 MiB; RFC 9106 second recommended option).
    parallelism : int
        Lanes. 2 (this workstation's core count; the hash records it, so it can change later).
    """

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 2

    def __post_init__(self) -> None:
        if self.time_cost < 1 or self.memory_kib < 8 * self.parallelism or self.parallelism < 1:
            raise ModelError(
                f"KdfParams: expected time_cost >= 1, parallelism >= 1 and memory_kib >= "
                f"8 x parallelism, received {self}."
            )

    def hasher(self) -> PasswordHasher:
        """An argon2-cffi hasher with these parameters (type argon2id)."""
        return PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_kib,
            parallelism=self.parallelism,
            type=Type.ID,
        )

    def hash(self, password: str) -> str:
        """The PHC string ``$argon2id$v=19$m=...,t=...,p=...$salt$hash`` of ``password``."""
        return self.hasher().hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """True when ``password`` matches ``password_hash`` (any argon2 parameters)."""
        try:
            return bool(self.hasher().verify(password_hash, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def check_password_policy(password: object) -> str:
    """Return ``password`` if acceptable, else raise :class:`ModelError` naming the rule."""
    if not isinstance(password, str) or len(password) < PASSWORD_MIN_LENGTH:
        raise ModelError(
            f"password: expected at least {PASSWORD_MIN_LENGTH} characters, received "
            f"{len(password) if isinstance(password, str) else 'no text'}; choose a longer one."
        )
    if password != password.strip():
        raise ModelError(
            "password: leading or trailing spaces are not allowed (they are easily lost when "
            "typed); remove them."
        )
    return password


@lru_cache(maxsize=8)
def dummy_hash(kdf: KdfParams) -> str:
    """A hash of a random password with ``kdf``'s parameters, computed once per parameters.

    Verifying a login of an unknown or inactive user against it costs the same argon2 work as a
    real user's, so the time taken does not reveal which user names exist.
    """
    import secrets

    return kdf.hash(secrets.token_urlsafe(32))
