"""`idp-exporter` end to end as a subprocess, and log redaction."""

from __future__ import annotations

import io
import json
import logging
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devstack.servers import free_port, port_open, wait_until
from exporter import config, logs

SECRET = "cli-Secret-5d2e"  # a password that must never leak


def _run(args: list[str], **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "exporter.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
        **kwargs,  # type: ignore[call-overload]
    )


def test_start_serve_and_stop_on_sigterm(
    tmp_path: Path, shared_pg_dsn: str, shared_redis_url: str
) -> None:
    (tmp_path / "pw").write_text(SECRET + "\n")
    port = free_port()
    cfg = tmp_path / "exporter.yaml"
    cfg.write_text(
        f"""
sources:
  - {{name: db, type: postgres, dsn: "{shared_pg_dsn}", password_file: {tmp_path}/pw,
      interval: 500ms, timeout: 500ms}}
  - {{name: cache, type: redis, url: "{shared_redis_url}", interval: 500ms, timeout: 500ms}}
"""
    )
    proc = _run(
        ["--config", str(cfg), f"--web.listen-address=127.0.0.1:{port}", "--log-level", "DEBUG",
         "--log-format", "json"]
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/readyz").status_code == 200
            except httpx.HTTPError:
                return proc.poll() is not None  # stop waiting if it died

        wait_until(ready, 15, "/readyz 200")
        assert proc.poll() is None
        text = httpx.get(f"{url}/metrics").text
        assert 'idp_postgres_up{target="db"} 1.0' in text  # trust auth ignores the password
        assert 'idp_redis_up{target="cache"} 1.0' in text
        assert SECRET not in httpx.get(f"{url}/metrics").text
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert SECRET not in err and SECRET not in out
    messages = [json.loads(line)["msg"] for line in err.splitlines()]
    assert any(m.startswith("listening on 127.0.0.1") for m in messages)
    assert messages[-1] == "stopped"
    assert not port_open(port)


def test_config_errors_exit_2_before_listening(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(
        f"""web:
  listen_address: 127.0.0.1:{port}
  colour: blue
sources:
  - {{name: a, type: http, url: "not a url"}}
  - {{name: a, type: postgres, dsn: "postgresql://x@db/app", password_file: {tmp_path}/missing}}
"""
    )
    proc = _run(["--config", str(cfg)])
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    # FILE:LINE:COL: path: message, every error, in file order (columns vary by node)
    lines = [re.sub(r"^(.*?:\d+):\d+:", r"\1:", line) for line in err.strip().splitlines()]
    assert lines == [
        f"{cfg}:3: web.colour: unknown key",
        f"{cfg}:5: sources[0].url: scheme must be one of http, https",
        f"{cfg}:6: sources[1].name: duplicate source name 'a' (also sources[0])",
        f"{cfg}:6: sources[1].password_file: is not a readable regular file (the value is not repeated)",
    ]
    assert out == ""
    assert not port_open(port)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config", "/nonexistent.yaml"], "cannot read"),
        (["--log-level", "loud"], "Invalid value for '--log-level'"),
        (["--web.listen-address", "nowhere"], "invalid listen address"),
        # Both once got past validation: the first listened on ::1, the second exited 1.
        (["--web.listen-address", "[::1:80"], "--web.listen-address: invalid listen address '[::1:80': [::1 is not an IPv6 address in brackets"),
        (["--web.listen-address", "256.1.1.1:80"], "--web.listen-address: invalid listen address '256.1.1.1:80': 256.1.1.1 is not an IPv4 address"),
        (["--web.listen-address", "no-such-host.invalid:80"], "cannot resolve listen host no-such-host.invalid"),
    ],
)  # fmt: skip
def test_bad_flags_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    cfg = tmp_path / "ok.yaml"
    cfg.write_text("sources: [{name: a, type: http, url: 'http://127.0.0.1:1/'}]\n")
    if "--config" not in args:
        args = ["--config", str(cfg), *args]
    proc = _run(args)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert message in err


def _refused(tmp_path: Path, text: str) -> list[str]:
    """stderr lines of `idp-exporter --config` on `text`, which must exit 2 before listening."""
    cfg = tmp_path / "exporter.yaml"
    cfg.write_text(text)
    proc = _run(["--config", str(cfg)])
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2, err
    assert out == ""
    return err.strip().splitlines()


def test_alias_bomb_config_is_refused_at_every_anchor_and_alias(tmp_path: Path) -> None:
    # Nine levels of nine-fold aliases would expand to 9**9 strings if composed.
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    errors = _refused(tmp_path, "\n".join(lines) + "\n")
    cfg = tmp_path / "exporter.yaml"
    assert errors[0] == f"{cfg}:1:4: $: YAML anchors are not allowed in a config"
    assert f"{cfg}:2:4: $: YAML anchors are not allowed in a config" in errors
    assert f"{cfg}:2:8: $: YAML aliases are not allowed in a config" in errors
    assert len(errors) == 9 + 8 * 9  # every anchor and every alias, nothing expanded


@pytest.mark.parametrize(
    ("text", "col"),
    [
        # 10,000 nested mappings: the root is level 1, each `{a: ` one more, and the key
        # `a` of the innermost mapping allowed is the first node too deep.
        ("a: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n", 4 + (config.MAX_DEPTH - 2) * 4 + 1),
        # 10,000 nested block sequences on one line (`- - - x`).
        ("- " * 10_000 + "x\n", 2 * config.MAX_DEPTH + 1),
        # 200 KB of `[`: libyaml's scanner, looking ahead for a flow key, stops at its own
        # limit of 1,000 levels before the composer sees level 17; never parsed further.
        ("[" * 200_000 + "\n", 1001),
    ],
    ids=["10000-deep-mappings", "10000-deep-sequences", "200KB-of-brackets"],
)
def test_deeply_nested_config_is_a_located_error(tmp_path: Path, text: str, col: int) -> None:
    errors = _refused(tmp_path, text)
    cfg = tmp_path / "exporter.yaml"
    assert errors == [f"{cfg}:1:{col}: $: nesting deeper than {config.MAX_DEPTH} levels"]


def test_every_duplicate_key_in_a_config_is_reported(tmp_path: Path) -> None:
    errors = _refused(
        tmp_path,
        "web: {max_requests: 5}\n"
        "sources:\n"
        "  - name: a\n"
        "    type: http\n"
        "    url: http://127.0.0.1:1/\n"
        "    url: http://127.0.0.1:2/\n"
        "web: {max_requests: 6}\n",
    )
    cfg = tmp_path / "exporter.yaml"
    assert errors == [
        f"{cfg}:6:5: sources[0].url: duplicate key 'url' (first at line 5)",
        f"{cfg}:7:1: web: duplicate key 'web' (first at line 1)",
    ]


def test_redaction_filter() -> None:
    stream = io.StringIO()
    logs.setup("info", "logfmt", stream)
    logs.register_secret("file-secret-value")
    log = logging.getLogger("exporter.test")
    try:
        log.info("dsn %s", "postgresql://idp:pa55word@db:5432/app")
        log.info("keyword dsn host=db password='p a s s' user=idp")
        log.info("keyword dsn host=db password=plain user=idp")
        log.info("the secret file-secret-value appeared")
        try:
            raise RuntimeError("connect to redis://:redispw@cache:6379 failed")
        except RuntimeError:
            log.exception("failed")
        log.debug("below the level: pa55word")
    finally:
        logging.getLogger().handlers.clear()
    text = stream.getvalue()
    for secret in ("pa55word", "p a s s", "plain", "file-secret-value", "redispw"):
        assert secret not in text, text
    assert "postgresql://idp:***@db:5432/app" in text
    assert "redis://:***@cache:6379" in text
    assert "password=***" in text


def test_json_and_logfmt_lines_carry_the_same_redacted_fields() -> None:
    lines = {}
    for fmt in ("json", "logfmt"):
        stream = io.StringIO()
        logs.setup("info", fmt, stream)
        try:
            try:
                raise RuntimeError("connect to redis://:redispw@cache:6379 failed")
            except RuntimeError:
                logging.getLogger("exporter.test").exception("refresh failed")
        finally:
            logging.getLogger().handlers.clear()
        lines[fmt] = stream.getvalue().strip()
    entry = json.loads(lines["json"])
    assert set(entry) == {"ts", "level", "logger", "msg", "err"}
    assert entry["level"] == "error" and entry["msg"] == "refresh failed"
    assert "redis://:***@cache:6379" in entry["err"] and "redispw" not in entry["err"]
    assert lines["logfmt"].startswith(f"ts={entry['ts'][:19]}")
    assert "level=error logger=exporter.test" in lines["logfmt"]
    assert 'msg="refresh failed" err=' in lines["logfmt"] and "redispw" not in lines["logfmt"]


def test_huge_fields_are_redacted_then_capped() -> None:
    # A probed target's 60 KB redirect URL, logged at warning, once froze the process
    # (the URL pattern backtracked quadratically: ~16 s for one line here).
    secret = "S3cretPassw0rd"
    location = f"https://probe:{secret}@portal.example/" + "a" * 60_000
    crossing_the_cut = "x" * 4070 + f" postgresql://idp:{secret}@db/app"
    stream = io.StringIO()
    logs.setup("warning", "json", stream)
    log = logging.getLogger("exporter.test")
    try:
        log.warning("probe portal redirected to %s", location)
        log.warning("%s", crossing_the_cut)
        try:
            raise RuntimeError(f"connect to redis://:{secret}@cache/" + "b" * 70_000)
        except RuntimeError:
            log.exception("refresh failed")
    finally:
        logging.getLogger().handlers.clear()
    redirect, crossing, failure = (json.loads(line) for line in stream.getvalue().splitlines())
    assert secret[:4] not in stream.getvalue()  # not even the head of it at the cut
    whole = "probe portal redirected to " + location.replace(secret, "***")
    left_out = len(whole) - logs.MAX_MESSAGE_CHARS
    assert redirect["msg"] == f"{whole[: logs.MAX_MESSAGE_CHARS]}... [{left_out} more characters]"
    for entry in (redirect, crossing):
        assert len(entry["msg"]) <= logs.MAX_MESSAGE_CHARS + 40
    assert "redis://:***@cache/bbb" in failure["err"]
    assert len(failure["err"]) <= logs.MAX_ERROR_CHARS + 40
