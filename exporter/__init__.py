"""idp-exporter: platform SLIs (deployments, rollbacks, probes, PostgreSQL, Redis) for Prometheus."""

__version__ = "0.1.0"
