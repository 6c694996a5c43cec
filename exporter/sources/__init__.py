"""Sources: one module per kind of thing the exporter watches.

`build` turns a validated source config into its Source or Poller. Imports are lazy so
a deployment that only probes HTTP never loads the Kubernetes client.
"""

from __future__ import annotations

from exporter.config import (
    ArgoSourceConfig,
    HttpSourceConfig,
    PostgresSourceConfig,
    RedisSourceConfig,
)
from exporter.sources.base import Poller, Source

AnySourceConfig = ArgoSourceConfig | PostgresSourceConfig | RedisSourceConfig | HttpSourceConfig


def build(cfg: AnySourceConfig, *, process_start: float) -> Source | Poller:
    """The source for `cfg`. `process_start` is the counter epoch (Unix seconds)."""
    if isinstance(cfg, ArgoSourceConfig):
        from exporter.sources.argo import ArgoSource

        return ArgoSource(cfg, process_start=process_start)
    if isinstance(cfg, PostgresSourceConfig):
        from exporter.sources.postgres import PostgresSource

        return PostgresSource(cfg)
    if isinstance(cfg, RedisSourceConfig):
        from exporter.sources.redis import RedisSource

        return RedisSource(cfg)
    from exporter.sources.http_probe import HttpProbe

    return HttpProbe(cfg)
