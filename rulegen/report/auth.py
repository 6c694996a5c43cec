"""Credentials for the Prometheus API, read from files or the environment, never argv.

Flags name files; the environment may carry the secret itself (IDP_REPORT_BEARER_TOKEN,
IDP_REPORT_PASSWORD), as CI systems inject it. A URL with user:password@ is refused,
because it would put the password in argv, shell history and process listings.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from rulegen.errors import UsageError

TOKEN_ENV = "IDP_REPORT_BEARER_TOKEN"
PASSWORD_ENV = "IDP_REPORT_PASSWORD"


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


@dataclass(frozen=True)
class Auth:
    """Basic auth (user and password) or a bearer token; repr never shows the secret."""

    user: str | None = None
    secret: str = field(default="", repr=False)

    def httpx(self) -> httpx.Auth:
        if self.user is not None:
            return httpx.BasicAuth(self.user, self.secret)
        return _Bearer(self.secret)


def _read_secret(path: Path, what: str) -> str:
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise UsageError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    if not text:
        raise UsageError(f"the {what} file {path} is empty")
    return text


def resolve(
    url: str,
    user: str | None,
    password_file: Path | None,
    token_file: Path | None,
    env: Mapping[str, str] | None = None,
) -> Auth | None:
    """The credentials the flags and environment ask for; UsageError if they conflict."""
    env = os.environ if env is None else env
    if urlsplit(url).password is not None or "@" in urlsplit(url).netloc:
        raise UsageError(
            "the --prometheus URL must not carry credentials; use --basic-auth-user with "
            f"--basic-auth-password-file or {PASSWORD_ENV}, or --bearer-token-file"
        )
    if user is not None and token_file is not None:
        raise UsageError("use basic auth or a bearer token, not both")
    if password_file is not None and user is None:
        raise UsageError("--basic-auth-password-file needs --basic-auth-user")
    if user is not None:
        if password_file is not None:
            return Auth(user, _read_secret(password_file, "password"))
        if env.get(PASSWORD_ENV):
            return Auth(user, env[PASSWORD_ENV])
        raise UsageError(f"--basic-auth-user needs --basic-auth-password-file or {PASSWORD_ENV}")
    if token_file is not None:
        return Auth(None, _read_secret(token_file, "bearer token"))
    if env.get(TOKEN_ENV):
        return Auth(None, env[TOKEN_ENV])
    return None
