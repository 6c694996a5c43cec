"""The demo stack: a component that cannot start is named, and close() leaves nothing behind."""

from __future__ import annotations

import pytest

from devstack.servers import port_open
from devstack.stack import Stack, StackError

# Prometheus refuses this expression and exits at startup, so the last component fails
# after every other one is up.
BROKEN_RULES = """\
groups:
  - name: broken
    rules:
      - record: broken:sum
        expr: sum(
"""


def test_a_failed_start_names_the_component_and_close_stops_everything_started() -> None:
    stack = Stack({"broken.rules.yml": BROKEN_RULES})
    try:
        with pytest.raises(StackError, match=r"could not start Prometheus: prometheus exited"):
            stack.start()
        assert stack.prometheus is None
        assert stack.pg and stack.redis and stack.exporter and stack.health
        ports = {
            "fake Kubernetes API": stack.kube.port,
            "health check": stack.health.port,
            "PostgreSQL": stack.pg.port,
            "Redis": stack.redis.port,
            "idp-exporter": stack.exporter.port,
        }
        dirs = [stack.dir, stack.pg.dir, stack.redis.dir, stack.exporter.dir]
        assert all(port_open(port) for port in ports.values()), ports
    finally:
        stack.close()
    assert [name for name, port in ports.items() if port_open(port)] == []
    assert [d for d in dirs if d.exists()] == []
