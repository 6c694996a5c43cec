"""What both CLIs share: located safe YAML, located issues, durations, the metric catalog.

A leaf: nothing here imports exporter, rulegen or devstack.
"""
