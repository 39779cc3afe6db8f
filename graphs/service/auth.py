"""Who is calling: API keys mapped to tenants, read from the file ``HYPERMNESIA_API_KEYS`` names.

One key per line, ``key user_id [agent_id]``; ``#`` starts a comment. A key may be written as
``sha256:<hex digest of the key>`` so the file need not hold the key itself. The namespace of a
request comes from its key only, never from its body.

Without a keys file the service runs in local mode: one trusted local user, whose requests name
their namespace (``user_id`` / ``agent_id``). ``app.py serve`` refuses local mode on any host but
the loopback.

A request carries its key in ``Authorization: Bearer <key>``; a read (GET or HEAD) may instead
carry it in the ``hypermnesia_key`` cookie, which a browser page can set after asking for the key.
Writes never accept the cookie, so a page on another site cannot make a browser write or delete.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request, status

from memory.errors import InvalidInputError, InvalidNamespaceError
from memory.model import Namespace

__all__ = [
    "KEYS_ENV",
    "KEY_COOKIE",
    "Caller",
    "KeyRing",
    "caller",
    "key_digest",
    "keyring_from_env",
    "request_key",
    "unprocessable",
]

KEYS_ENV = "HYPERMNESIA_API_KEYS"
KEY_COOKIE = "hypermnesia_key"
_HASHED = "sha256:"
_SAFE_METHODS = frozenset({"GET", "HEAD"})


def key_digest(key: str) -> str:
    """The hex SHA-256 of a key, the form keys are compared in (and may be stored in)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyRing:
    """API keys (by digest) and the namespace each one opens."""

    def __init__(self, tenants: Mapping[str, Namespace]) -> None:
        self._by_digest = dict(tenants)

    def __len__(self) -> int:
        return len(self._by_digest)

    @classmethod
    def load(cls, path: Path | str) -> KeyRing:
        """Read a keys file; a bad line is reported with its number, never with the key."""
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InvalidInputError(f"cannot read the API keys file {path}: {exc}") from None
        tenants: dict[str, Namespace] = {}
        for number, line in enumerate(lines, start=1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            where = f"{path}, line {number}"
            if len(fields) not in (2, 3):
                raise InvalidInputError(f"{where}: expected 'key user_id [agent_id]'")
            digest = _digest_of(fields[0], where)
            try:
                ns = Namespace(user_id=fields[1], agent_id=(fields[2:] or ["default"])[0])
            except InvalidNamespaceError as exc:
                raise InvalidInputError(f"{where}: {exc}") from None
            if digest in tenants:
                raise InvalidInputError(f"{where}: this key is already listed")
            tenants[digest] = ns
        if not tenants:
            raise InvalidInputError(f"the API keys file {path} lists no key")
        return cls(tenants)

    def tenant(self, key: str) -> Namespace | None:
        """The namespace ``key`` opens, or None for an unknown key.

        Keys are looked up by digest, so the time a lookup takes says nothing about the keys."""
        return self._by_digest.get(key_digest(key))


def _digest_of(field: str, where: str) -> str:
    if not field.startswith(_HASHED):
        return key_digest(field)
    digest = field.removeprefix(_HASHED).lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInputError(f"{where}: a hashed key is 'sha256:' and 64 hex digits")
    return digest


def keyring_from_env(environ: Mapping[str, str] | None = None) -> KeyRing | None:
    """The key ring of the file ``HYPERMNESIA_API_KEYS`` names; None (local mode) when unset."""
    path = (environ if environ is not None else os.environ).get(KEYS_ENV, "").strip()
    return KeyRing.load(path) if path else None


@dataclass(frozen=True)
class Caller:
    """The caller of one request: a key's tenant, or the local user (``tenant`` is None)."""

    tenant: Namespace | None

    @property
    def local(self) -> bool:
        return self.tenant is None

    def namespace(
        self, user_id: str | None, agent_id: str | None, *, where: str = "body"
    ) -> Namespace:
        """The namespace a request works in: the key's, or in local mode the one it names
        (``where`` says if the request names it in its ``body`` or its ``query``)."""
        if self.tenant is not None:
            named = [n for n, v in (("user_id", user_id), ("agent_id", agent_id)) if v is not None]
            if named:
                raise unprocessable(
                    [where, named[0]], "the namespace comes from the API key; leave it out"
                )
            return self.tenant
        if user_id is None:
            raise unprocessable([where, "user_id"], "local mode (no API keys file) needs user_id")
        try:
            return Namespace(user_id=user_id, agent_id=agent_id or "default")
        except InvalidNamespaceError as exc:
            field = "user_id" if agent_id is None else "agent_id"
            raise unprocessable([where, field], str(exc)) from None


def unprocessable(loc: list[str], message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the field."""
    detail = [{"loc": loc, "msg": message, "type": "value_error"}]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


def request_key(request: Request) -> str | None:
    """The key a request carries: the bearer header, or for a read the cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.method in _SAFE_METHODS:
        return request.cookies.get(KEY_COOKIE) or None
    return None


def caller(request: Request) -> Caller:
    """FastAPI dependency: the caller of this request; 401 for a missing or unknown key.

    Any router mounted on the service's app can depend on it; the key ring lives in
    ``app.state.keys`` (None in local mode).
    """
    keys: KeyRing | None = request.app.state.keys
    if keys is None:
        return Caller(tenant=None)
    key = request_key(request)
    tenant = keys.tenant(key) if key is not None else None
    if tenant is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing API key" if key is None else "unknown API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Caller(tenant=tenant)
