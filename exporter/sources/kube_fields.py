"""Typed reads of fields from decoded Kubernetes objects (plain dicts from JSON).

Each helper raises ValueError when a field is present but of the wrong shape, so a
projection turns any malformed object into one ValueError that the reflector counts as a
parse error. Absent optional fields return a default instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def mapping(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """obj[key] as a mapping; {} if absent or null."""
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{key} is not an object")
    return value


def string(obj: Mapping[str, Any], key: str, default: str = "") -> str:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value


def labels(meta: Mapping[str, Any]) -> Mapping[str, str]:
    value = mapping(meta, "labels")
    if not all(isinstance(v, str) for v in value.values()):
        raise ValueError("metadata.labels has a non-string value")
    return value


def timestamp(obj: Mapping[str, Any], key: str) -> float | None:
    """An RFC 3339 time (`2026-03-02T10:00:01Z`, fractions allowed) as Unix seconds."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    parsed = datetime.fromisoformat(value)  # ValueError on garbage
    if parsed.tzinfo is None:
        raise ValueError(f"{key} has no time zone")
    return parsed.timestamp()


def parameter(spec: Mapping[str, Any], name: str) -> str | None:
    """The value of spec.arguments.parameters[name], or None if there is no such one."""
    params = mapping(spec, "arguments").get("parameters")
    if params is None:
        return None
    if not isinstance(params, list):
        raise ValueError("arguments.parameters is not a list")
    for param in params:
        if not isinstance(param, Mapping) or not isinstance(param.get("name"), str):
            raise ValueError("arguments.parameters has an entry without a name")
        if param["name"] == name:
            value = param.get("value")
            if value is None:
                return None
            if not isinstance(value, str):
                raise ValueError(f"parameter {name} is not a string")
            return value
    return None


class Incomplete(ValueError):
    """A projection kept what it could of an object with a missing or unreadable field.

    `record` is still used (e.g. the workflow stays in idp_workflows); the object is
    reported like a malformed one (a WARNING and a parse error), with `reason`."""

    def __init__(self, record: Any, reason: str) -> None:
        super().__init__(reason)
        self.record = record
