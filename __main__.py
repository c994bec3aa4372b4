"""Pulumi entry point: one environment of arc-eks (see README.md)."""

from arc_eks.program import main

main()
