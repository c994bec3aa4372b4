"""Pure builders: plain functions that return dicts (IAM documents, Helm values, pod specs).

They take plain values and return plain data, so they are tested without Pulumi; components wire
them to resources (through `Output.apply` where an input is only known at deploy time).
"""
