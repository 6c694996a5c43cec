"""Config validation: strict, every error at once with its path and line, secrets unechoed."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from exporter import config
from exporter.config import ConfigError, parse, parse_duration

EXAMPLE = Path(__file__).parents[2] / "deploy" / "examples" / "exporter.yaml"


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(textwrap.dedent(text), "c.yaml")
    return info.value.lines()


def test_example_config_is_valid(tmp_path: Path) -> None:
    for name in ("pg-password", "redis-password"):
        (tmp_path / name).write_text("s3cret\n")
    text = EXAMPLE.read_text().replace("/etc/idp-exporter/", f"{tmp_path}/")
    cfg = parse(text, str(EXAMPLE))
    assert [s.type for s in cfg.sources] == ["argo", "postgres", "redis", "http"]
    argo, pg, redis, http = cfg.sources
    assert isinstance(redis, config.RedisSourceConfig) and redis.username == "slo"
    assert isinstance(argo, config.ArgoSourceConfig)
    assert (argo.interval, argo.timeout, argo.kubeconfig) == (300.0, 10.0, None)
    assert argo.deployments.environment_parameter == "environment"
    assert isinstance(pg, config.PostgresSourceConfig)
    assert pg.password() == "s3cret"  # trailing newline stripped
    assert pg.audit is not None and pg.audit.key_column == "id"
    assert isinstance(http, config.HttpSourceConfig) and not http.insecure_skip_verify
    assert cfg.web.listen_address == "0.0.0.0:9877"


def test_every_error_is_reported_at_once_with_path_and_line(tmp_path: Path) -> None:
    lines = _errors(
        """\
        web:
          listen_address: 0.0.0.0:9877
          bogus: 1
        sources:
          - name: db
            type: postgres
            dsn: postgresql://idp@db:5432/backstage
            password_file: /nonexistent/pg-password
          - name: cache
            type: redis
            url: redis://cache:6379/0
            intervall: 5s
          - name: portal
            type: http
            url: "ftp://portal/health"
          - name: db
            type: http
            url: https://idp/health
            timeout: banana
        """
    )
    assert lines == [
        "c.yaml:3:10: web.bogus: unknown key",
        "c.yaml:8:20: sources[0].password_file: is not a readable regular file (the value is not repeated)",
        "c.yaml:12:16: sources[1].intervall: unknown key",
        "c.yaml:15:10: sources[2].url: scheme must be one of http, https",
        "c.yaml:16:11: sources[3].name: duplicate source name 'db' (also sources[0])",
        "c.yaml:19:14: sources[3].timeout: invalid duration 'banana'; use e.g. 500ms, 15s, 1m, 1h30m",
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{name: a, type: nope}", "sources[0].type: type must be one of argo, postgres, redis, http"),
        ("{name: a}", "sources[0]: required key `type` is missing"),
        ("{name: a, type: http}", "sources[0].url: required key is missing"),
        ("{name: 'a b', type: http, url: 'http://x'}", "sources[0].name: String should match"),
        ("{name: a, type: http, url: 'http://x', body_regex: '('}", "invalid regular expression"),
        ("{name: a, type: http, url: 'http://x', interval: 1s, timeout: 2s}", "must not exceed interval"),
        ("{name: a, type: http, url: 'http://u:p@x'}", "sources[0].url: must not contain credentials"),
        ("{name: a, type: redis, url: 'redis://x/notadb'}", "must be a database number"),
        ("{name: a, type: postgres, dsn: 'mysql://x/db'}", "scheme must be one of postgresql"),
        ("{name: a, type: postgres, dsn: 'postgresql://x/db', password_env: NOPE_NOT_SET}", "password_env: names an environment variable that is not set"),
        ("{name: a, type: postgres, dsn: 'postgresql://x/db', audit: {table: 'a;drop', actions: [x]}}", "sources[0].audit.table"),
        ("{name: a, type: postgres, dsn: 'postgresql://x/db', audit: {actions: []}}", "sources[0].audit.actions"),
        ("{name: a, type: argo, cluster: c, namespaces: [argo]}", "sources[0].deployments: required key is missing"),
        ("{name: a, type: argo, cluster: c, namespaces: [argo], deployments: {templates: [t], nope: 1}}", "sources[0].deployments.nope: unknown key"),
        ("{name: a, type: http, url: 'http://x', interval: 15}", "sources[0].interval: must be a duration string"),
    ],
)  # fmt: skip
def test_bad_source(source: str, expected: str) -> None:
    lines = _errors(f"sources:\n  - {source}\n")
    assert any(expected in line for line in lines), lines
    assert all(line.startswith("c.yaml:") for line in lines)


def test_secret_values_are_never_echoed(tmp_path: Path) -> None:
    lines = _errors(
        """\
        web: {basic_auth_users: {prometheus: hunter2-plaintext}}
        sources:
          - {name: db, type: postgres, dsn: "postgresql://idp:hunter2-dsn@db/x"}
          - {name: db2, type: postgres, dsn: "postgresql://idp@db/x", password_file: hunter2-pasted}
          - {name: c, type: redis, url: "redis://cache:6379/0", password_env: hunter2pasted}
        """
    )
    text = "\n".join(lines)
    assert "hunter2" not in text
    assert "web.basic_auth_users: " in text
    assert "sources[0].dsn: must not contain a password" in text
    assert "sources[1].password_file: is not a readable regular file" in text
    assert "sources[2].password_env: names an environment variable that is not set" in text


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{type: postgres, dsn: 'postgresql://idp@db/x?password=hunter2'}", "dsn: must not carry password="),
        ("{type: postgres, dsn: 'postgresql://idp@db/x?sslmode=require&sslpassword=hunter2'}", "dsn: must not carry sslpassword="),
        ("{type: postgres, dsn: 'postgresql://idp@db/x?pass%77ord=hunter2'}", "dsn: must not carry password="),
        ("{type: redis, url: 'redis://cache:6379/0?password=hunter2'}", "url: must not carry password="),
        ("{type: redis, url: 'redis://cache:6379/0?PASSWORD=hunter2'}", "url: must not carry password="),
    ],
)  # fmt: skip
def test_passwords_in_query_strings_are_refused(source: str, expected: str) -> None:
    # libpq and redis-py both take a password from the query string: it would be a secret
    # inline in the config, in argv-like places and in every error that shows the URL.
    lines = _errors(f"sources:\n  - {{name: a, {source[1:]}\n")
    assert any(expected in line for line in lines), lines
    assert "hunter2" not in "\n".join(lines)


def test_query_strings_without_secrets_are_fine(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    cfg = parse(
        "sources:\n"
        "  - {name: a, type: postgres, dsn: 'postgresql://idp@db/x?sslmode=verify-full&"
        f"passfile=/x', password_file: {tmp_path}/pw}}\n"
        "  - {name: b, type: redis, url: 'redis://cache:6379/0?socket_keepalive=true'}\n",
        "c.yaml",
    )
    assert len(cfg.sources) == 2


def test_both_password_sources_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw").write_text("x")
    monkeypatch.setenv("PW", "y")
    lines = _errors(
        f"sources: [{{name: a, type: redis, url: 'redis://x', password_file: {tmp_path}/pw, password_env: PW}}]"
    )
    assert any("not both" in line for line in lines), lines


def test_web_errors() -> None:
    lines = _errors(
        """\
        web:
          listen_address: nowhere
          tls: {cert_file: /nope.crt}
          basic_auth_users: {prometheus: "$2b$12$short"}
        sources: [{name: a, type: http, url: "http://x"}]
        """
    )
    joined = "\n".join(lines)
    assert "web.listen_address: invalid listen address" in joined
    assert "web.tls.cert_file: file /nope.crt does not exist" in joined
    assert "web.tls.key_file: required key is missing" in joined
    assert "not a bcrypt hash" in joined


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &x 1\nb: *x\n", "aliases are not allowed"),
        ("sources: []\nsources: []\n", "duplicate key 'sources'"),
        ("sources: [\n", "malformed YAML"),
        ("- 1\n", "must be a YAML mapping"),
        ("sources: []\n", "sources: List should have at least 1 item"),
    ],
)
def test_bad_yaml(text: str, message: str) -> None:
    assert any(message in line for line in _errors(text))


def test_config_larger_than_the_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("sources: [{name: a, type: http, url: 'http://x'}]\n" + "#" * config.MAX_BYTES)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert info.value.lines() == [f"{path}:1:1: $: config is larger than {config.MAX_BYTES} bytes"]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        config.load(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15), ("1m", 60), ("1m30s", 90), ("250ms", 0.25), ("1h", 3600), ("2d", 172800)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "15", "1.5s", "s", "1x", "-1s", "1s1m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "address"),
    [("0.0.0.0:9877", ("0.0.0.0", 9877)), (":9877", ("0.0.0.0", 9877)), ("[::1]:80", ("::1", 80))],
)
def test_listen_address(text: str, address: tuple[str, int]) -> None:
    assert config.parse_listen_address(text) == address


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[::1:80", "[::1 is not an IPv6 address in brackets"),
        ("[::1]]:80", "not an IPv6 address in brackets"),
        ("[10.0.0.1]:80", "not an IPv6 address in brackets"),
        ("::1:80", "an IPv6 address must be in brackets"),
        ("256.1.1.1:80", "256.1.1.1 is not an IPv4 address"),
        ("10.0.0:80", "10.0.0 is not an IPv4 address"),
        ("under_score:80", "'under_score' is not a host name"),
        ("host:65536", "want HOST:PORT"),
        ("host:٣", "want HOST:PORT"),  # a digit to str.isdigit, not to a port
    ],
)
def test_bad_listen_address(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        config.parse_listen_address(text)
    lines = _errors(
        f"web: {{listen_address: '{text}'}}\nsources: [{{name: a, type: http, url: 'http://x'}}]\n"
    )
    assert lines[0].startswith("c.yaml:1:") and message in lines[0]


def test_invalid_argo_label_selector_is_a_located_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "sources:\n"
        "  - name: c1\n"
        "    type: argo\n"
        "    cluster: c1\n"
        "    namespaces: [argo]\n"
        "    deployments: {templates: [deploy], label_selector: 'app in (a,'}\n"
    )
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert "deployments.label_selector" in str(err.value)
    assert "label selector" in str(err.value)


def test_the_registry_names_every_type_the_config_accepts() -> None:
    names = list(config.SOURCE_TYPES)
    assert names == ["argo", "postgres", "redis", "http"]
    for source_type in config.SOURCE_TYPES.values():  # a misspelt line fails here
        module, _, name = source_type.implementation.partition(":")
        assert isinstance(getattr(importlib.import_module(module), name), type)
    lines = _errors("sources: [{name: a, type: nope}]\n")
    assert lines == [
        "c.yaml:1:27: sources[0].type: type must be one of argo, postgres, redis, http"
    ]


def test_an_http_only_exporter_never_imports_the_other_clients() -> None:
    script = (
        "import sys\n"
        "from exporter import config\n"
        "from exporter.sources import build\n"
        "cfg = config.parse(\"sources: [{name: a, type: http, url: 'http://x'}]\")\n"
        "print(type(build(cfg.sources[0], process_start=0)).__name__)\n"
        "print(sorted(m for m in ('kubernetes', 'psycopg', 'redis') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == ["HttpProbe", "[]"]
