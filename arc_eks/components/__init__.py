"""Pulumi ComponentResources, one public component per module."""
