"""Sources: one module per kind of thing the exporter watches."""
