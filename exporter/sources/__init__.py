"""Sources: one module per kind of thing the exporter watches.

`build` turns a validated source config into its Source or Poller, through the registry
of source types in `exporter.config.SOURCE_TYPES`. The implementation's module is
imported only then, so a deployment that only probes HTTP never loads the Kubernetes
client.
"""

from __future__ import annotations

import importlib

from exporter.config import SOURCE_TYPES, SourceConfig
from exporter.sources.base import Poller, Source


def build(cfg: SourceConfig, *, process_start: float) -> Source | Poller:
    """The source for `cfg`. `process_start` is the counter epoch (Unix seconds)."""
    source_type = next(t for t in SOURCE_TYPES.values() if isinstance(cfg, t.config))
    module, _, name = source_type.implementation.partition(":")
    implementation = getattr(importlib.import_module(module), name)
    if source_type.takes_process_start:
        source: Source | Poller = implementation(cfg, process_start=process_start)
    else:
        source = implementation(cfg)
    return source
