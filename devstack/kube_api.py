"""A wire-level fake Kubernetes API server for tests, benchmarks and the demo.

Real HTTP/1.1 on 127.0.0.1 (stdlib `ThreadingHTTPServer`), reached by the official
`kubernetes` client through a generated kubeconfig, unmodified. It implements what
list+watch clients depend on, with the API server's semantics:

- a global, monotonically increasing resourceVersion stamped into every object;
- LIST with `limit`/`continue` served from a consistent snapshot taken at the first page
  (as etcd does), `labelSelector` (equality, inequality, existence), and a `410 Expired`
  Status for continue tokens whose snapshot is gone;
- WATCH as a chunked stream of JSON lines: from a resourceVersion (history replay),
  without one (synthetic ADDED for the current objects first), `allowWatchBookmarks`
  (BOOKMARK every `bookmark_interval` seconds), `timeoutSeconds` (the stream then ends
  cleanly), and an ERROR event with code 410 for a resourceVersion older than the
  compacted history;
- bearer-token auth (401 without it), and minimal discovery (/version, /api, /apis).

Test hooks: `create` / `modify` / `delete` objects, `load` many at once (before history
starts), `compact` history, `drop_watches`, `stall_watches`, `fail` requests with a status
(500, 403, ...), `latency`, and `stop`/`start` on the same port for an outage.
Only the resources in `RESOURCES` are served.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import itertools
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


WORKFLOWS = Kind("argoproj.io", "v1alpha1", "workflows", "Workflow")
APPLICATIONS = Kind("argoproj.io", "v1alpha1", "applications", "Application")
CRONJOBS = Kind("batch", "v1", "cronjobs", "CronJob")
RESOURCES = {(k.group, k.version, k.plural): k for k in (WORKFLOWS, APPLICATIONS, CRONJOBS)}

_COLLECTION = re.compile(
    r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)(/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)$"
)


@dataclass
class _Object:
    namespace: str
    name: str
    uid: str
    labels: dict[str, str]
    raw: bytes  # the JSON as served, resourceVersion included


@dataclass(frozen=True)
class _Event:
    rv: int
    type: str
    obj: _Object


@dataclass
class _Fault:
    status: int
    times: int | None  # None: until cleared
    match: str  # substring of "VERB path?query"; "" matches everything


@dataclass
class Request:
    verb: str  # list, watch, get, other
    path: str
    query: dict[str, str]


@dataclass
class _Collection:
    kind: Kind
    objects: dict[tuple[str, str], _Object] = field(default_factory=dict)
    events: list[_Event] = field(default_factory=list)  # rv-ordered history


class FakeKubeAPI:
    def __init__(
        self,
        *,
        token: str = "fake-token",
        bookmark_interval: float = 1.0,
        max_history: int = 1_000_000,
    ) -> None:
        self.token = token
        self.bookmark_interval = bookmark_interval
        self.max_history = max_history
        self.latency = 0.0  # seconds added before answering every API request
        self.gone_as_http_status = False  # 410 for old watches as HTTP status, not an event
        self.requests: list[Request] = []
        self._rv = 1000
        self._compacted = 0  # watches/lists older than this resourceVersion get 410
        self._collections = {key: _Collection(kind) for key, kind in RESOURCES.items()}
        self._cond = threading.Condition()
        self._faults: list[_Fault] = []
        self._snapshots: dict[str, tuple[int, list[_Object]]] = {}
        self._watch_sockets: set[socket.socket] = set()
        self._expired: set[socket.socket] = set()
        self._stalled = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeKubeAPI:
        """Listen (again) on the same port; the first start picks a free one."""
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = _Server(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open watch: clients see connection refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.drop_watches()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kubeconfig(self, path: Path, context: str = "fake") -> Path:
        """Write a kubeconfig (JSON is valid YAML) pointing at this server."""
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": context, "cluster": {"server": self.url}}],
                    "users": [{"name": context, "user": {"token": self.token}}],
                    "contexts": [
                        {"name": context, "context": {"cluster": context, "user": context}}
                    ],
                    "current-context": context,
                }
            )
        )
        return path

    # -- objects ------------------------------------------------------------------------

    def create(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new object (uid, resourceVersion, creationTimestamp filled in)."""
        with self._cond:
            stored = self._stamp(kind, obj)
            key = (stored.namespace, stored.name)
            if key in self._coll(kind).objects:
                raise ValueError(f"{kind.plural} {key} already exists")
            self._record(kind, "ADDED", stored)
            return json.loads(stored.raw)  # type: ignore[no-any-return]

    def load(self, kind: Kind, objects: Iterable[dict[str, Any]]) -> int:
        """Store many objects as if they predated the watch history (no events)."""
        n = 0
        with self._cond:
            coll = self._coll(kind)
            for obj in objects:
                stored = self._stamp(kind, obj)
                coll.objects[(stored.namespace, stored.name)] = stored
                n += 1
            self._compacted = self._rv
        return n

    def modify(
        self, kind: Kind, namespace: str, name: str, change: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any]:
        """Apply `change` to the stored object in place and publish a MODIFIED event."""
        with self._cond:
            current = self._coll(kind).objects[(namespace, name)]
            obj = json.loads(current.raw)
            change(obj)
            stored = self._stamp(kind, obj, uid=current.uid)
            self._record(kind, "MODIFIED", stored)
            return json.loads(stored.raw)  # type: ignore[no-any-return]

    def put(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object whole (MODIFIED keeps the existing uid)."""
        meta = obj.get("metadata", {})
        current = self._coll(kind).objects.get((meta.get("namespace", ""), meta.get("name", "")))
        if current is None:
            return self.create(kind, obj)

        def replace(old: dict[str, Any]) -> None:
            old.clear()
            old.update(json.loads(json.dumps(obj)))

        return self.modify(kind, meta["namespace"], meta["name"], replace)

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        with self._cond:
            current = self._coll(kind).objects[(namespace, name)]
            obj = json.loads(current.raw)
            stored = self._stamp(kind, obj, uid=current.uid)
            self._record(kind, "DELETED", stored)

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any]:
        with self._cond:
            return json.loads(self._coll(kind).objects[(namespace, name)].raw)  # type: ignore[no-any-return]

    def count(self, kind: Kind) -> int:
        with self._cond:
            return len(self._coll(kind).objects)

    @property
    def resource_version(self) -> int:
        with self._cond:
            return self._rv

    # -- faults -------------------------------------------------------------------------

    def compact(self) -> None:
        """Forget all history up to now: older watches and continue tokens get 410."""
        with self._cond:
            self._compacted = self._rv
            for coll in self._collections.values():
                coll.events.clear()
            self._snapshots.clear()

    def drop_watches(self) -> None:
        """Cut every open watch connection mid-stream (no terminating chunk)."""
        # Under the lock: a watch that already ended may hand its keep-alive connection to
        # the next request, which must not be cut.
        with self._cond:
            for sock in self._watch_sockets:
                with contextlib.suppress(OSError):  # already closed by the client
                    sock.shutdown(socket.SHUT_RDWR)
            self._watch_sockets.clear()
            self._cond.notify_all()

    def expire_watches(self) -> None:
        """Compact history and tell every open watch its version is too old (an ERROR
        event with code 410, then the stream ends), as the API server does to a
        watcher that fell behind compaction."""
        with self._cond:
            self.compact()
            self._expired |= self._watch_sockets
            self._cond.notify_all()

    def stall_watches(self, stalled: bool = True) -> None:
        """Open watches (and new ones) go silent: no events, no bookmarks, no end."""
        with self._cond:
            self._stalled = stalled
            self._cond.notify_all()

    def fail(self, status: int, times: int | None = None, match: str = "") -> None:
        """Answer `status` to the next `times` requests (all, if None) matching `match`,
        a substring of "VERB /path?query" (VERB is list, watch or get)."""
        with self._cond:
            self._faults.append(_Fault(status, times, match))

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()

    def watch_count(self) -> int:
        with self._cond:
            return len(self._watch_sockets)

    def requests_of(self, verb: str) -> list[Request]:
        with self._cond:
            return [r for r in self.requests if r.verb == verb]

    # -- internals (all under self._cond) ----------------------------------------------

    def _coll(self, kind: Kind) -> _Collection:
        return self._collections[(kind.group, kind.version, kind.plural)]

    def _stamp(self, kind: Kind, obj: dict[str, Any], uid: str | None = None) -> _Object:
        self._rv += 1
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(self._rv)
        meta.setdefault("uid", uid or str(uuid.uuid4()))
        meta.setdefault("namespace", "default")
        meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        labels = meta.get("labels") or {}
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return _Object(meta["namespace"], meta["name"], meta["uid"], dict(labels), raw)

    def _record(self, kind: Kind, type_: str, stored: _Object) -> None:
        coll = self._coll(kind)
        key = (stored.namespace, stored.name)
        if type_ == "DELETED":
            coll.objects.pop(key, None)
        else:
            coll.objects[key] = stored
        coll.events.append(_Event(self._rv, type_, stored))
        if len(coll.events) > self.max_history:
            dropped = coll.events[: len(coll.events) - self.max_history]
            del coll.events[: len(dropped)]
            self._compacted = max(self._compacted, dropped[-1].rv)
        self._cond.notify_all()

    def _too_old(self, since: str) -> bool:
        with self._cond:
            return since not in ("", "0") and int(since) < self._compacted

    def _take_fault(self, what: str) -> int | None:
        with self._cond:
            for fault in self._faults:
                if fault.match in what:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault.status
        return None

    # -- serving (called from handler threads) -----------------------------------------

    def _list(self, coll: _Collection, ns: str | None, query: dict[str, str]) -> tuple[int, bytes]:
        selector = _parse_selector(query.get("labelSelector", ""))
        limit = int(query.get("limit") or 0)
        token = query.get("continue")
        with self._cond:
            if token:
                try:
                    state = json.loads(base64.urlsafe_b64decode(token))
                    rv, items = self._snapshots[state["id"]]
                    offset = int(state["offset"])
                except (ValueError, KeyError):
                    return 410, _status(
                        410, "Expired", "The provided continue parameter is too old"
                    )
            else:
                rv = self._rv
                items = sorted(
                    (
                        o
                        for o in coll.objects.values()
                        if (ns is None or o.namespace == ns) and selector(o.labels)
                    ),
                    key=lambda o: (o.namespace, o.name),
                )
                offset = 0
            page = items[offset : offset + limit] if limit else items[offset:]
            end = offset + len(page)
            meta: dict[str, Any] = {"resourceVersion": str(rv)}
            if end < len(items):
                snap_id = state["id"] if token else uuid.uuid4().hex
                self._snapshots[snap_id] = (rv, items)
                meta["continue"] = base64.urlsafe_b64encode(
                    json.dumps({"id": snap_id, "offset": end}).encode()
                ).decode()
                meta["remainingItemCount"] = len(items) - end
            elif token:
                self._snapshots.pop(state["id"], None)
        head = json.dumps(
            {"apiVersion": coll.kind.api_version, "kind": f"{coll.kind.kind}List", "metadata": meta}
        ).encode()
        body = b"".join([head[:-1], b',"items":[', b",".join(o.raw for o in page), b"]}"])
        return 200, body

    def _watch_events(
        self,
        coll: _Collection,
        ns: str | None,
        query: dict[str, str],
        sock: socket.socket,
    ) -> Iterator[bytes]:
        """The lines of one watch stream; ends at timeoutSeconds or when dropped."""
        selector = _parse_selector(query.get("labelSelector", ""))
        bookmarks = query.get("allowWatchBookmarks") in ("true", "True", "1")
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        since = query.get("resourceVersion") or ""

        def visible(o: _Object) -> bool:
            return (ns is None or o.namespace == ns) and selector(o.labels)

        with self._cond:
            self._watch_sockets.add(sock)
            if since in ("", "0"):
                # No version: the current state as ADDED events, then changes.
                initial = [o for o in coll.objects.values() if visible(o)]
                position = self._rv
            elif int(since) < self._compacted:
                initial, position = [], -1
            else:
                initial, position = [], int(since)
        try:
            if position < 0:
                yield _line(
                    "ERROR", _status_obj(410, "Expired", f"too old resource version: {since}")
                )
                return
            for o in initial:
                yield _event_line("ADDED", o.raw)
            next_bookmark = time.monotonic() + self.bookmark_interval
            while True:
                expired = False
                with self._cond:
                    while True:
                        if sock not in self._watch_sockets:
                            return  # dropped
                        if sock in self._expired:
                            self._expired.discard(sock)
                            expired = True
                            break
                        now = time.monotonic()
                        if self._stalled:
                            self._cond.wait(0.1)
                            continue
                        if now >= deadline:
                            return
                        events = coll.events
                        start = bisect.bisect_right(events, position, key=lambda e: e.rv)
                        pending = [e for e in itertools.islice(events, start, None)]
                        if pending or (bookmarks and now >= next_bookmark):
                            break
                        wake = min(deadline, next_bookmark) if bookmarks else deadline
                        self._cond.wait(wake - now)
                    current = self._rv
                if expired:
                    yield _line("ERROR", _status_obj(410, "Expired", "too old resource version"))
                    return
                for event in pending:
                    position = event.rv
                    if visible(event.obj):
                        yield _event_line(event.type, event.obj.raw)
                if bookmarks and time.monotonic() >= next_bookmark:
                    position = max(position, current)
                    yield _line(
                        "BOOKMARK",
                        {
                            "kind": coll.kind.kind,
                            "apiVersion": coll.kind.api_version,
                            "metadata": {"resourceVersion": str(position)},
                        },
                    )
                    next_bookmark = time.monotonic() + self.bookmark_interval
        finally:
            with self._cond:
                self._watch_sockets.discard(sock)
                self._expired.discard(sock)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-response (watches closed, requests timed out) is routine.
        pass


class _Handler(BaseHTTPRequestHandler):
    api: FakeKubeAPI
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        api = self.api
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        match = _COLLECTION.match(parts.path)
        verb = "other"
        if match:
            verb = "watch" if query.get("watch") in ("true", "True", "1") else "list"
        elif parts.path.startswith("/apis/") and parts.path.count("/") >= 6:
            verb = "get"
        with api._cond:
            api.requests.append(Request(verb, parts.path, query))
        if api.latency:
            time.sleep(api.latency)
        if parts.path.rstrip("/") == "/version":
            return self._json(200, _VERSION)
        if self.headers.get("Authorization") != f"Bearer {api.token}":
            return self._json(401, _status_obj(401, "Unauthorized", "Unauthorized"))
        fault = api._take_fault(f"{verb} {self.path}")
        if fault is not None:
            return self._json(
                fault, _status_obj(fault, _REASONS.get(fault, "InternalError"), "injected")
            )
        if parts.path.rstrip("/") in ("/api", "/apis"):
            return self._json(200, _discovery(parts.path.rstrip("/")))
        if match is None:
            return self._get_one(parts.path)
        coll = api._collections.get((match["group"], match["version"], match["plural"]))
        if coll is None:
            return self._json(
                404,
                _status_obj(404, "NotFound", "the server could not find the requested resource"),
            )
        if verb == "list":
            status, body = api._list(coll, match["ns"], query)
            return self._send(status, body)
        if api.gone_as_http_status and api._too_old(query.get("resourceVersion", "")):
            return self._json(410, _status_obj(410, "Expired", "too old resource version"))
        self._stream(api._watch_events(coll, match["ns"], query, self.connection))

    def _get_one(self, path: str) -> None:
        m = re.match(r"^/apis/([^/]+)/([^/]+)/namespaces/([^/]+)/([^/]+)/([^/]+)$", path)
        coll = self.api._collections.get((m[1], m[2], m[4])) if m else None
        if m is None or coll is None:
            return self._json(404, _status_obj(404, "NotFound", "not found"))
        with self.api._cond:
            obj = coll.objects.get((m[3], m[5]))
        if obj is None:
            return self._json(404, _status_obj(404, "NotFound", f"{m[4]} {m[5]} not found"))
        self._send(200, obj.raw)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, lines: Iterator[bytes]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        try:
            for line in lines:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return
        finally:
            close = getattr(lines, "close", None)
            if close is not None:
                close()


_VERSION = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.0-fake",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.22.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_REASONS = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    410: "Expired",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def _status_obj(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _status(code: int, reason: str, message: str) -> bytes:
    return json.dumps(_status_obj(code, reason, message)).encode()


def _line(type_: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": type_, "object": obj}).encode() + b"\n"


def _event_line(type_: str, raw: bytes) -> bytes:
    return b'{"type":"%s","object":%s}\n' % (type_.encode(), raw)


def _discovery(path: str) -> dict[str, Any]:
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"]}
    groups = sorted({(k.group, k.version) for k in RESOURCES.values()})
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": g,
                "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
            }
            for g, v in groups
        ],
    }


def _parse_selector(text: str) -> Callable[[dict[str, str]], bool]:
    """Equality-based selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`), comma-joined."""
    clauses: list[tuple[str, str, str]] = []  # (op, key, value)
    for clause in filter(None, (c.strip() for c in text.split(","))):
        if "!=" in clause:
            k, v = clause.split("!=", 1)
            clauses.append(("!=", k.strip(), v.strip()))
        elif "=" in clause:
            k, v = clause.replace("==", "=").split("=", 1)
            clauses.append(("=", k.strip(), v.strip()))
        elif clause.startswith("!"):
            clauses.append(("!", clause[1:].strip(), ""))
        else:
            clauses.append(("exists", clause, ""))

    def matches(labels: dict[str, str]) -> bool:
        for op, key, value in clauses:
            if op == "=" and labels.get(key) != value:
                return False
            if op == "!=" and labels.get(key) == value:
                return False
            if op == "!" and key in labels:
                return False
            if op == "exists" and key not in labels:
                return False
        return True

    return matches
