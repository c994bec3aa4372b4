"""Kubernetes resource quantities ("500m", "1.5", "6Gi", "512M", 1e9) as millicores and MiB."""

from __future__ import annotations

import re
from typing import Any

_QUANTITY = re.compile(
    r"^\s*(?P<number>[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)(?P<suffix>[A-Za-z]*)\s*$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1.0, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_DECIMAL.update({"P": 1e15, "E": 1e18})


def _base_units(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    number, suffix = float(match.group("number")), match.group("suffix")
    scale = _BINARY.get(suffix) or _DECIMAL.get(suffix)
    return None if scale is None else number * scale


def cpu_millis(value: Any) -> float | None:
    """CPU in millicores; None if not a quantity."""
    units = _base_units(value)
    return None if units is None else units * 1000


def memory_mib(value: Any) -> float | None:
    """Memory in MiB; None if not a quantity."""
    units = _base_units(value)
    return None if units is None else units / 2**20
