"""Label values the exporter itself chooses, so that every label stays bounded."""

from __future__ import annotations

# The fixed reasons a source can fail for; never free text (it would be unbounded).
ERROR_REASONS = ("timeout", "connection", "auth", "parse", "other")

# Values labels fold into when the real value is not in an allow-list.
OTHER = "other"
UNKNOWN = "unknown"
