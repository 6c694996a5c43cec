"""The Redis source against real redis-server processes."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import httpx
import redis

from devstack.servers import RedisServer, wait_until
from exporter import logs
from tests.exporter.helpers import start_exporter

PASSWORD = "redis-Secret-77c1"


def _config(url: str, extra: str = "") -> str:
    return f"""
sources:
  - name: cache
    type: redis
    url: "{url}"
    interval: 300ms
    timeout: 300ms
{extra}"""


def test_values_equal_what_redis_reports(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.config_set("maxmemory", "100mb")
    client.set("present", "1")
    exp = start_exporter(_config(redis_server.url))
    try:
        wait_until(lambda: exp.value("idp_redis_up", target="cache") == 1, 10, "redis up")
        before = client.info("stats")
        for _ in range(7):
            client.get("present")
        for _ in range(4):
            client.get("absent")
        hits, misses = before["keyspace_hits"] + 7, before["keyspace_misses"] + 4

        def caught_up() -> bool:
            series = exp.scrape()
            return (
                series.get(("idp_redis_keyspace_hits_total", frozenset({("target", "cache")})))
                == hits
                and series.get(
                    ("idp_redis_keyspace_misses_total", frozenset({("target", "cache")}))
                )
                == misses
            )

        wait_until(caught_up, 5, "hits and misses")
        info = client.info()
        wait_until(
            lambda: (
                exp.value("idp_redis_connected_clients", target="cache")
                == info["connected_clients"]
            ),
            5,
            "connected clients",
        )
        assert exp.value("idp_redis_memory_max_bytes", target="cache") == 100 * 1024 * 1024
        used = exp.value("idp_redis_memory_used_bytes", target="cache")
        assert used is not None and abs(used - info["used_memory"]) < 1024 * 1024
    finally:
        exp.stop()


def test_acl_user_with_password_file(redis_server: RedisServer, tmp_path: Path) -> None:
    admin = redis.Redis.from_url(redis_server.url)
    admin.execute_command("ACL", "SETUSER", "slo", "on", f">{PASSWORD}", "-@all", "+info", "+ping")
    admin.execute_command("ACL", "SETUSER", "default", "off")  # nobody gets in without a user
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    (tmp_path / "wrong").write_text("nope\n")
    stream = io.StringIO()
    logs.setup("debug", "json", stream)
    try:
        extra = f"""    username: slo
    password_file: {tmp_path}/pw
  - name: cache-wrong
    type: redis
    url: "{redis_server.url}"
    username: slo
    password_file: {tmp_path}/wrong
    interval: 300ms
    timeout: 300ms
"""
        exp = start_exporter(_config(redis_server.url, extra))
        try:
            wait_until(lambda: exp.value("idp_redis_up", target="cache") == 1, 10, "up as slo")
            wait_until(
                lambda: (
                    (
                        exp.value(
                            "idp_exporter_source_errors_total", source="cache-wrong", reason="auth"
                        )
                        or 0
                    )
                    >= 1
                ),
                10,
                "auth failure counted",
            )
            assert exp.value("idp_redis_up", target="cache-wrong") == 0
            logging.getLogger("test").warning("redis://slo:%s@cache:6379/0 failed", PASSWORD)
            text = httpx.get(f"{exp.url}/metrics").text
        finally:
            exp.stop()
    finally:
        logging.getLogger().handlers.clear()
    assert PASSWORD not in text
    assert PASSWORD not in stream.getvalue()
    assert "redis://slo:***@cache" in stream.getvalue()


def test_rotated_password_is_picked_up_on_reconnect(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # Before, the password was read once: after a rotation the source stayed down with
    # auth errors until the exporter restarted.
    old, new = "rotate-Old-4a1f", "rotate-New-9c3e"
    admin = redis.Redis.from_url(redis_server.url)
    admin.config_set("requirepass", old)
    admin = redis.Redis.from_url(redis_server.url, password=old)
    secret = tmp_path / "pw"
    secret.write_text(old + "\n")
    stream = io.StringIO()
    logs.setup("info", "logfmt", stream)
    try:
        exp = start_exporter(_config(redis_server.url, f"    password_file: {secret}\n"))
        try:
            wait_until(lambda: exp.value("idp_redis_up", target="cache") == 1, 10, "up")
            # The server rotates first and drops every connection; the secret follows.
            admin.config_set("requirepass", new)
            admin = redis.Redis.from_url(redis_server.url, password=new)
            admin.client_kill_filter(_type="normal", skipme=True)

            def auth_errors() -> float:
                found = exp.value("idp_exporter_source_errors_total", source="cache", reason="auth")
                return found or 0

            wait_until(lambda: auth_errors() >= 1, 10, "the old password refused")
            (tmp_path / "pw.new").write_text(new + "\n")
            os.replace(tmp_path / "pw.new", secret)  # atomic, as a Secret volume swaps
            wait_until(lambda: exp.value("idp_redis_up", target="cache") == 1, 10, "up again")
            text = httpx.get(f"{exp.url}/metrics").text
        finally:
            exp.stop()
    finally:
        logging.getLogger().handlers.clear()
    for password in (old, new):
        assert password not in text and password not in stream.getvalue()


def test_user_in_the_url_is_kept_with_a_password_file(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    admin = redis.Redis.from_url(redis_server.url)
    admin.execute_command("ACL", "SETUSER", "slo", "on", f">{PASSWORD}", "-@all", "+info", "+ping")
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    url = redis_server.url.replace("redis://", "redis://slo@")
    exp = start_exporter(_config(url, f"    password_file: {tmp_path}/pw\n"))
    try:
        wait_until(lambda: exp.value("idp_redis_up", target="cache") == 1, 10, "up as slo")
        clients = admin.client_list()
        assert any(c["user"] == "slo" for c in clients), clients
    finally:
        exp.stop()
