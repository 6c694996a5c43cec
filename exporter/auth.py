"""HTTP basic auth against bcrypt hashes, built so that failed logins cannot starve scrapes.

- The server checks credentials before it takes a request slot, so clients without the
  password never occupy the slots that scrapes need.
- bcrypt runs in a bounded pool of workers (it releases the GIL, so they run in
  parallel); a login that waits longer than `wait` for a worker is answered "busy" (503)
  rather than queueing without end.
- Only successes are cached, under a key of user, stored hash and password: a wrong
  password never hits the cache and cannot evict the right one, and (CVE-2022-46146)
  knowing a hash is not enough to log in. The cache is bounded in size and age.
- An unknown user is checked against a dummy hash as costly as the most expensive
  configured one, so the answer takes as long as for a known user (no user enumeration
  by timing).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

import bcrypt

CACHE_SIZE = 100  # successful logins remembered (one per user and password in practice)
CACHE_TTL = 300.0  # seconds a remembered login stays valid
# bcrypt checks at once: half the cores, at least two, so a flood of bad logins leaves
# CPU for the sources and the render thread.
WORKERS = max(2, (os.cpu_count() or 2) // 2)
WAIT = 5.0  # seconds a login may wait for a bcrypt worker before it is answered busy


class Verdict(enum.Enum):
    ALLOWED = "allowed"
    DENIED = "denied"
    BUSY = "busy"  # every bcrypt worker stayed taken for the whole wait


class BasicAuth:
    def __init__(
        self,
        users: Mapping[str, str],
        *,
        workers: int = WORKERS,
        wait: float = WAIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = {user: hashed.encode() for user, hashed in users.items()}
        self._dummy = _dummy_hash(max((_cost(h) for h in self._users.values()), default=4))
        self._workers = threading.BoundedSemaphore(workers)
        self._wait = wait
        self._clock = clock
        self._successes: OrderedDict[bytes, float] = OrderedDict()  # key -> expiry
        self._cache_lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._users)

    def check(self, authorization: str | None) -> Verdict:
        """Whether the Authorization header carries a valid user and password."""
        if not self._users:
            return Verdict.ALLOWED
        credentials = _parse(authorization)
        if credentials is None:
            return Verdict.DENIED
        user, password = credentials
        stored = self._users.get(user)
        hashed = stored if stored is not None else self._dummy
        key = _cache_key(user, hashed, password)
        if self._remembered(key):
            return Verdict.ALLOWED
        if not self._workers.acquire(timeout=self._wait):
            return Verdict.BUSY
        try:
            ok = _verify(password, hashed)
        finally:
            self._workers.release()
        if not ok or stored is None:
            return Verdict.DENIED
        self._remember(key)
        return Verdict.ALLOWED

    def _remembered(self, key: bytes) -> bool:
        with self._cache_lock:
            expiry = self._successes.get(key)
            if expiry is None:
                return False
            if expiry <= self._clock():
                del self._successes[key]
                return False
            self._successes.move_to_end(key)
            return True

    def _remember(self, key: bytes) -> None:
        with self._cache_lock:
            self._successes[key] = self._clock() + CACHE_TTL
            self._successes.move_to_end(key)
            while len(self._successes) > CACHE_SIZE:
                self._successes.popitem(last=False)


def _cost(hashed: bytes) -> int:
    return int(hashed[4:6])  # $2b$12$...: the config validates the format


def _dummy_hash(cost: int) -> bytes:
    # A fresh salt and an all-zero digest: well formed, so checkpw does the full work of
    # `cost` and fails; no password hashes to it, and building it costs nothing.
    return bcrypt.gensalt(cost) + b"." * 31


def _cache_key(user: str, hashed: bytes, password: bytes) -> bytes:
    name = user.encode()
    # Length-prefixed: no other (user, hash, password) spells the same bytes.
    return hashlib.sha256(b"%d:%s%s%s" % (len(name), name, hashed, password)).digest()


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
