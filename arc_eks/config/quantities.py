"""Kubernetes resource quantities, parsed just enough to compare them and fit them on a node."""

from __future__ import annotations

import re

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)?$")
_MEMORY_FACTORS_MIB = {
    None: 1 / 2**20,
    "Ki": 1 / 2**10,
    "Mi": 1.0,
    "Gi": 2.0**10,
    "Ti": 2.0**20,
    "k": 1e3 / 2**20,
    "K": 1e3 / 2**20,
    "M": 1e6 / 2**20,
    "G": 1e9 / 2**20,
    "T": 1e12 / 2**20,
}


def cpu_millis(value: str) -> float:
    """`"500m"` -> 500, `"1.5"` -> 1500. Raises ValueError on anything else."""
    match = _CPU.match(value)
    if not match:
        raise ValueError(f"a CPU quantity such as 500m or 1.5 (got {value!r})")
    number = float(match.group(1))
    return number if match.group(2) else number * 1000


def memory_mib(value: str) -> float:
    """`"1Gi"` -> 1024, `"512Mi"` -> 512, `"1G"` -> 953.67. Raises ValueError on anything else."""
    match = _MEMORY.match(value)
    if not match:
        raise ValueError(f"a memory quantity such as 512Mi or 4Gi (got {value!r})")
    return float(match.group(1)) * _MEMORY_FACTORS_MIB[match.group(2)]
