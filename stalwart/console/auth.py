"""Who is asking: bearer tokens, console users with hashed passwords, signed sessions.

Three ways in, decided once per request by :class:`Authenticator`:

- ``Authorization: Bearer <STALWART_CONSOLE_TOKEN>``: an API client, role ``operator``
  (no cookie is involved, so no CSRF token either);
- a session cookie, signed (``itsdangerous``), HttpOnly and SameSite=Strict, set by
  ``POST /api/session`` after checking a ``STALWART_CONSOLE_USERS`` password against
  its argon2 hash; it carries the user, and the CSRF token that every
  state-changing request must echo in the ``X-CSRF-Token`` header;
- neither configured ("open" mode, which :mod:`.server` allows on loopback only): every
  visitor is ``local`` with role ``operator``, still with a session cookie and a CSRF
  token, so that another web site cannot post to the console through the browser.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import argon2
from itsdangerous import BadSignature, URLSafeTimedSerializer

from stalwart.settings import ConsoleUser, Settings

__all__ = [
    "COOKIE",
    "SESSION_SECONDS",
    "Authenticator",
    "Principal",
    "hash_password",
]

COOKIE = "stalwart_session"
SESSION_SECONDS = 12 * 3600
OPERATOR = "operator"
_hasher = argon2.PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """The one behind a request: ``via`` is bearer, session or open."""

    name: str
    role: str
    via: str
    csrf: str | None = None

    @property
    def may_act(self) -> bool:
        return self.role == OPERATOR

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return "console:token" if self.via == "bearer" else f"console:{self.name}"


def hash_password(password: str) -> str:
    """An encoded argon2id hash for ``STALWART_CONSOLE_USERS``."""
    return _hasher.hash(password)


def _verify(user: ConsoleUser, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


class Authenticator:
    """Checks credentials and issues/reads session cookies for one console."""

    def __init__(self, settings: Settings) -> None:
        token = settings.console_token
        self.token = token.get_secret_value() if token is not None else None
        self.users = {user.name: user for user in settings.console_users}
        self.open = self.token is None and not self.users
        # Sessions stay valid across restarts and replicas with the same settings; a
        # changed password or token changes the key and ends every session.
        material = "|".join([self.token or "", *(u.password_hash for u in self.users.values())])
        secret = hashlib.sha256(material.encode()).hexdigest() if not self.open else None
        self._signer = URLSafeTimedSerializer(
            secret or secrets.token_hex(32), salt="stalwart-console-session"
        )
        self._dummy = hash_password(secrets.token_hex(8))  # equal work for unknown names

    def bearer(self, header: str | None) -> Principal | bool | None:
        """The principal of an ``Authorization`` header; False if it is wrong."""
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or self.token is None:
            return False
        if hmac.compare_digest(value.strip().encode(), self.token.encode()):
            return Principal("token", OPERATOR, "bearer")
        return False

    def login(self, name: str, password: str) -> Principal | None:
        user = self.users.get(name)
        if user is None:
            _verify(ConsoleUser("-", "viewer", self._dummy), password)
            return None
        if not _verify(user, password):
            return None
        return Principal(user.name, user.role, "session", secrets.token_urlsafe(24))

    def open_session(self) -> Principal:
        return Principal("local", OPERATOR, "open", secrets.token_urlsafe(24))

    def cookie_for(self, principal: Principal) -> str:
        return self._signer.dumps({"u": principal.name, "c": principal.csrf})

    def session(self, cookie: str | None) -> Principal | None:
        """The principal of a session cookie (None if absent, forged or expired)."""
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        if self.open:
            return Principal("local", OPERATOR, "open", data["c"])
        user = self.users.get(str(data.get("u")))
        if user is None:
            return None
        return Principal(user.name, user.role, "session", data["c"])
