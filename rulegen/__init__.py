"""idp-rulegen: one SLO spec in, Prometheus rules, promtool tests and Grafana dashboards out."""

__version__ = "0.1.0"
