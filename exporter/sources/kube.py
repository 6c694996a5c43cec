"""List+watch of one Kubernetes resource in one namespace: the shared reflector.

A `Reflector` keeps a consumer informed about one collection of objects:

1. LIST, paginated (`limit`/`continue`), every object projected at once to a small
   record (a Workflow can approach 1 MB; only a few fields are kept) -> `Listed`.
2. WATCH from the list's resourceVersion with bookmarks, a server-side `timeoutSeconds`
   and a client-side read timeout a little longer, so a stalled connection ends instead
   of hanging forever -> `Upserted` / `Deleted` per event.
3. When the watch ends cleanly or its stream is cut, watch again from the last
   resourceVersion seen (nothing was lost). On 410 Gone, relist at once. On any other
   failure report `Failed` with a catalog reason, back off (capped) and relist.
4. Every `resync` seconds, relist anyway: the consumer gets a full fresh picture even if a
   watch silently missed something.

It never touches metrics or the runtime; it only emits events through a callback, from
its own thread, in the order it saw them.

Decoding is most of what an event costs (a Workflow line is ~12 KB, mostly status.nodes,
of which the projection reads nothing). The reflector reads the raw response
(`_preload_content=False`: the client's model deserialisation is several times slower)
and decodes it with msgspec against the projection's `shape`, a TypedDict of the fields
it reads: everything else is skipped inside the decoder, never built as Python objects.
An object whose fields do not fit the shape (say, `status` is a string) is decoded
whole instead, so the projection sees it as it is and says what is wrong with it.

Skipped input is visible: an object the projection cannot read (or reads only in part,
`Incomplete`) is logged at WARNING with its cluster, namespace, name and the reason, and
reported for a parse error, once per object and reason: not again for each watch event
or relist that shows the same problem, again if it changes or comes back after a good
version. `Listed.malformed` and `Upserted.reported` carry those new reports.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar, get_type_hints

import msgspec
import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from exporter.sources.kube_client import Gone, classify, describe, is_gone
from exporter.sources.kube_fields import Incomplete

log = logging.getLogger(__name__)

R = TypeVar("R")

# Errors a projection raises for an object without the fields it needs.
PROJECTION_ERRORS = (ValueError, TypeError, KeyError, AttributeError)

# Longest single watch request; bounds how long a stall can go unnoticed.
MAX_WATCH_WINDOW = 300.0
FIRST_BACKOFF = 0.25
MAX_BACKOFF = 30.0


@dataclass(frozen=True, slots=True)
class Resource:
    """A namespaced collection, e.g. argoproj.io/v1alpha1 workflows in `argo`."""

    group: str
    version: str
    plural: str
    namespace: str
    label_selector: str | None = None

    @property
    def key(self) -> str:
        return f"{self.plural}.{self.group}/{self.namespace}"


@dataclass(frozen=True, slots=True)
class Listed(Generic[R]):
    """A complete list: `records` replaces everything known about `resource`.

    A malformed object's record is None: it exists (so what was counted for its UID must
    be remembered) but its state is unknown. `malformed` is the number of problems newly
    reported by this list (objects without a UID included).
    """

    resource: Resource
    records: dict[str, R | None]  # by metadata.uid
    malformed: int
    duration: float


@dataclass(frozen=True, slots=True)
class Upserted(Generic[R]):
    """An object was added or modified; `record` is None if it could not be projected.
    `reported`: this event newly reported a problem with the object (count a parse error)."""

    resource: Resource
    uid: str
    record: R | None
    reported: bool = False


@dataclass(frozen=True, slots=True)
class Deleted:
    resource: Resource
    uid: str


@dataclass(frozen=True, slots=True)
class Failed:
    """A list or watch failed; `reason` is one of the catalog's ERROR_REASONS."""

    resource: Resource
    reason: str
    message: str
    duration: float


@dataclass(frozen=True, slots=True)
class Malformed:
    """A watch event whose object had no usable metadata.uid (cannot even be keyed)."""

    resource: Resource


Event = Listed[Any] | Upserted[Any] | Deleted | Failed | Malformed
Project = Callable[[dict[str, Any]], R]


class Decoder:
    """Watch lines and list pages -> plain dicts and lists, only the fields of `shape`
    (a total=False TypedDict of an object's fields) kept, or everything if None."""

    def __init__(self, shape: Any = None) -> None:
        self._event: msgspec.json.Decoder[Any] | None = None
        self._page: msgspec.json.Decoder[Any] | None = None
        if shape is not None:
            # A watch ERROR event carries a Status (code, message) as its object.
            fields = {**get_type_hints(shape), "code": Any, "message": Any}
            obj: Any = TypedDict("obj", fields, total=False)  # type: ignore[misc]
            event: Any = TypedDict("event", {"type": Any, "object": obj}, total=False)
            page: Any = TypedDict("page", {"items": list[obj] | None, "metadata": Any}, total=False)
            self._event = msgspec.json.Decoder(event)
            self._page = msgspec.json.Decoder(page)

    def event(self, raw: bytes) -> Any:
        return _decode(self._event, raw)

    def page(self, raw: bytes) -> Any:
        return _decode(self._page, raw)


_WHOLE: msgspec.json.Decoder[Any] = msgspec.json.Decoder()


def _decode(typed: msgspec.json.Decoder[Any] | None, raw: bytes) -> Any:
    if typed is not None:
        try:
            return typed.decode(raw)
        except msgspec.ValidationError:
            pass  # valid JSON of another shape: decode it whole (see the module docstring)
    return _WHOLE.decode(raw)  # invalid JSON raises msgspec.DecodeError, a ValueError


class _Stopped(Exception):
    """Raised to abandon a long list when the source is being stopped."""


class Backoff:
    """Exponential backoff with jitter, capped."""

    def __init__(self, cap: float, first: float = FIRST_BACKOFF) -> None:
        self.cap = max(cap, 0.01)
        self.first = min(first, self.cap)
        self.current = self.first

    def next(self) -> float:
        delay = self.current * random.uniform(0.8, 1.2)
        self.current = min(self.current * 2, self.cap)
        return min(delay, self.cap)

    def reset(self) -> None:
        self.current = self.first


class Reflector(Generic[R]):
    """List, then watch, one resource; emit events until `stop` is set. Never raises."""

    def __init__(
        self,
        api: Any,
        resource: Resource,
        project: Project[R],
        emit: Callable[[Event], None],
        *,
        resync: float,
        timeout: float,
        page_size: int = 500,
        cluster: str = "",
        shape: Any = None,
    ) -> None:
        self._decoder = Decoder(shape)
        self._objects = k8s.CustomObjectsApi(api)
        self._cluster = cluster
        self._problems: dict[str, str] = {}  # uid -> the problem last reported for it
        self.resource = resource
        self._project = project
        self._emit = emit
        self._resync = resync
        self._timeout = timeout
        self._page_size = page_size
        self._backoff = Backoff(min(resync, MAX_BACKOFF))
        self._current: Any = None  # the open watch response, for abort()
        self._lock = threading.Lock()

    # -- the loop ---------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        rv: str | None = None
        next_resync = 0.0
        gone_in_a_row = 0
        while not stop.is_set():
            started = time.monotonic()
            try:
                if rv is None or time.monotonic() >= next_resync:
                    rv = None
                    rv = self._list(stop)
                    next_resync = time.monotonic() + self._resync
                    self._backoff.reset()
                    gone_in_a_row = 0
                rv = self._watch(rv, next_resync, stop)
            except Exception as exc:
                if stop.is_set():
                    return
                rv = None
                if is_gone(exc):
                    # Expected (compaction); relist at once, but do not spin if the
                    # server keeps answering 410 to fresh lists.
                    gone_in_a_row += 1
                    log.info("%s: resourceVersion expired, relisting", self.resource.key)
                    if gone_in_a_row > 2:
                        stop.wait(self._backoff.next())
                    continue
                reason = classify(exc)
                log.warning(
                    "%s: %s (reason %s); retrying", self.resource.key, describe(exc), reason
                )
                self._emit(Failed(self.resource, reason, describe(exc), time.monotonic() - started))
                stop.wait(self._backoff.next())

    def abort(self) -> None:
        """Unblock a watch read from another thread (used when stopping)."""
        with self._lock:
            resp = self._current
        if resp is not None:
            try:
                resp.shutdown()
            except Exception:  # already closed: nothing to unblock
                log.debug("%s: abort: response already closed", self.resource.key)

    # -- list -------------------------------------------------------------------------

    def _list(self, stop: threading.Event) -> str:
        started = time.monotonic()
        records: dict[str, R | None] = {}
        problems: dict[str, str] = {}
        reports: list[tuple[Any, str]] = []  # logged once the list is complete
        token: str | None = None
        while True:
            resp = self._call(
                limit=self._page_size,
                _continue=token,
                _request_timeout=(self._timeout, self._timeout),
            )
            try:
                body = self._decoder.page(resp.data)
            finally:
                resp.release_conn()
            for obj in body.get("items") or ():
                uid, record, problem = self._project_one(obj)
                if uid is not None:
                    records[uid] = record
                if problem is not None:
                    key = uid or "/".join(_name(obj))
                    problems[key] = problem
                    if self._problems.get(key) != problem:
                        reports.append((_name(obj), problem))
            body.pop("items", None)  # drop the page's objects before fetching the next one
            meta = body.get("metadata") or {}
            token = meta.get("continue") or None
            if stop.is_set():
                raise _Stopped
            if token is None:
                rv = str(meta.get("resourceVersion") or "")
                break
        self._problems = problems
        for name, problem in reports:
            self._warn(name, problem)
        self._emit(Listed(self.resource, records, len(reports), time.monotonic() - started))
        return rv

    # -- watch ------------------------------------------------------------------------

    def _watch(self, rv: str, until: float, stop: threading.Event) -> str:
        window = int(max(1.0, min(until - time.monotonic(), MAX_WATCH_WINDOW)))
        resp = self._call(
            watch=True,
            resource_version=rv or None,
            allow_watch_bookmarks=True,
            timeout_seconds=window,
            # connect, per-read: a healthy server ends the stream after `window`.
            _request_timeout=(self._timeout, window + self._timeout),
        )
        with self._lock:
            self._current = resp
        try:
            for line in _lines(resp):
                if stop.is_set():
                    break
                rv = self._handle(self._decoder.event(line), rv)
        except urllib3.exceptions.ProtocolError as exc:
            # The stream was cut after it was established (proxy idle timeout, server
            # restart). Watch again from the last version; if the server is really
            # gone, the next request fails and reports it.
            log.info("%s: watch stream ended: %s", self.resource.key, describe(exc))
        finally:
            with self._lock:
                self._current = None
            # Closed, not returned to the pool: the stream may not have been read to its end.
            resp.close()
        return rv

    def _handle(self, event: dict[str, Any], rv: str) -> str:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            code = obj.get("code")
            if code == 410:
                raise Gone(obj.get("message", "expired"))
            raise ApiException(status=code or 500, reason=str(obj.get("message", ""))[:200])
        meta = obj.get("metadata") or {}
        new_rv = str(meta.get("resourceVersion") or rv)
        if kind == "BOOKMARK":
            return new_rv
        if kind == "DELETED":
            uid = meta.get("uid")
            if uid:
                self._problems.pop(uid, None)
                self._emit(Deleted(self.resource, uid))
            elif self._report(_name(obj), "deleted without metadata.uid"):
                self._emit(Malformed(self.resource))
        elif kind in ("ADDED", "MODIFIED"):
            uid, record, problem = self._project_one(obj)
            if uid is None:
                if problem is not None and self._report(_name(obj), problem):
                    self._emit(Malformed(self.resource))
                return new_rv
            reported = False
            if problem is None:
                self._problems.pop(uid, None)
            else:
                reported = self._report(_name(obj), problem, uid)
            self._emit(Upserted(self.resource, uid, record, reported))
        return new_rv

    # -- helpers ----------------------------------------------------------------------

    def _project_one(self, obj: Any) -> tuple[str | None, R | None, str | None]:
        """(uid, record, problem): record None if unusable, problem None if none."""
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        uid = meta.get("uid") if isinstance(meta, dict) else None
        if not isinstance(uid, str) or not uid:
            return None, None, "no metadata.uid"
        try:
            return uid, self._project(obj), None
        except Incomplete as exc:
            return uid, exc.record, str(exc)
        except PROJECTION_ERRORS as exc:
            return uid, None, f"skipped: {str(exc)[:200]}"

    def _report(self, name: tuple[str, str], problem: str, uid: str | None = None) -> bool:
        """Log a problem with an object unless it was already reported; True if new.
        Objects without a UID are told apart by namespace/name."""
        key = uid or "/".join(name)
        if self._problems.get(key) == problem:
            return False
        self._problems[key] = problem
        self._warn(name, problem)
        return True

    def _warn(self, name: tuple[str, str], problem: str) -> None:
        namespace, obj_name = name
        log.warning(
            "cluster %s: %s %s/%s: %s",
            self._cluster or "-",
            self.resource.plural,
            namespace,
            obj_name,
            problem,
        )

    def _call(self, **params: Any) -> Any:
        r = self.resource
        return self._objects.list_namespaced_custom_object(
            r.group,
            r.version,
            r.namespace,
            r.plural,
            label_selector=r.label_selector,
            _preload_content=False,
            **params,
        )


def _name(obj: Any) -> tuple[str, str]:
    """(namespace, name) of a decoded object, for logs; "?" where unreadable."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(meta, dict):
        return "?", "?"
    ns, name = meta.get("namespace"), meta.get("name")
    ns = ns if isinstance(ns, str) else "?"
    name = name if isinstance(name, str) else "?"
    return ns[:253], name[:253]


def _lines(resp: Any) -> Iterator[bytes]:
    """Newline-delimited JSON events from a streaming response, as they arrive."""
    parts: list[bytes] = []  # pieces of a line split across chunks (events can be ~1 MB)
    for chunk in resp.stream(amt=65536, decode_content=True):
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            parts.append(chunk[start:end])
            line = b"".join(parts)
            parts = []
            if line.strip():
                yield line
            start = end + 1
        if start < len(chunk):
            parts.append(chunk[start:])
    line = b"".join(parts)
    if line.strip():
        yield line
