"""The policy pack's reading of Kubernetes quantities (policies/arc_policies/quantities.py): every
suffix Kubernetes accepts, exponents, signs and spaces, and what is no quantity."""

from __future__ import annotations

from typing import Any

import pytest

from policies.arc_policies.quantities import cpu_millis, memory_mib


@pytest.mark.parametrize(
    ("value", "millis"),
    [
        ("500m", 500.0),
        ("1.5", 1500.0),
        (".5", 500.0),
        ("2.", 2000.0),
        (2, 2000.0),
        (0.25, 250.0),
        ("+1", 1000.0),
        ("-1", -1000.0),
        ("1e3m", 1000.0),
        ("1E-3", 1.0),
        (" 250m ", 250.0),
        ("1k", 1_000_000.0),
        ("1000000u", 1000.0),
        ("1000000000n", 1000.0),
    ],
)
def test_cpu_millis(value: Any, millis: float) -> None:
    assert cpu_millis(value) == pytest.approx(millis)


@pytest.mark.parametrize(
    ("value", "mib"),
    [
        ("6Gi", 6144.0),
        ("512Mi", 512.0),
        ("1024Ki", 1.0),
        ("1Ti", 2.0**20),
        ("1Pi", 2.0**30),
        ("1Ei", 2.0**40),
        ("1048576", 1.0),
        (1048576, 1.0),
        ("1M", 1e6 / 2**20),
        ("1G", 1e9 / 2**20),
        ("1T", 1e12 / 2**20),
        ("1P", 1e15 / 2**20),
        ("1E", 1e18 / 2**20),
        ("2097152k", 2000.0),
        ("1e9", 1e9 / 2**20),
        ("1.5Gi", 1536.0),
    ],
)
def test_memory_mib(value: Any, mib: float) -> None:
    # Exact: a suffix's scale one byte off would pass a relative tolerance.
    assert memory_mib(value) == mib


@pytest.mark.parametrize(
    "value",
    [None, True, "", "Gi", "1 Gi", "1gi", "1GB", "1Mi1", "x1", "1..5", "--1", [1], {"a": 1}],
)
def test_what_is_no_quantity(value: Any) -> None:
    assert cpu_millis(value) is None and memory_mib(value) is None
