"""HTTP basic auth against bcrypt hashes, as Prometheus' exporter-toolkit does it.

- An unknown user is checked against a fixed fake hash of the same cost, so the answer
  takes as long as for a known user (no user enumeration by timing).
- Results are cached (bcrypt is deliberately slow and Prometheus scrapes every 15 s) under
  a key that includes the stored hash: CVE-2022-46146 let anyone who knew a hash log in
  because the cache key did not.
- bcrypt runs behind a lock so a flood of bad logins costs one core, not all of them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping

import bcrypt

CACHE_SIZE = 100


class BasicAuth:
    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = {user: hashed.encode() for user, hashed in users.items()}
        cost = min((int(h[4:6]) for h in self._users.values()), default=10)
        # A hash of a random password nobody knows, with the cost of the real hashes.
        self._fake = bcrypt.hashpw(base64.b64encode(bcrypt.gensalt()), bcrypt.gensalt(cost))
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._bcrypt_lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    def check(self, authorization: str | None) -> bool:
        """True if the Authorization header carries a valid user and password."""
        if not self._users:
            return True
        credentials = _parse(authorization)
        if credentials is None:
            return False
        user, password = credentials
        known = user in self._users
        hashed = self._users.get(user, self._fake)
        key = hashlib.sha256(b"\0".join([user.encode(), hashed, password])).digest()
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        with self._bcrypt_lock:
            ok = _verify(password, hashed)
        result = ok and known
        with self._cache_lock:
            self._cache[key] = result
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return result


def _verify(password: bytes, hashed: bytes) -> bool:
    # checkpw compares in constant time; it also accepts htpasswd's $2y$ hashes.
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:
        return False  # bcrypt 5 refuses passwords over 72 bytes: a failed login


def _parse(header: str | None) -> tuple[str, bytes] | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    try:
        return user.decode(), password
    except UnicodeDecodeError:
        return None
