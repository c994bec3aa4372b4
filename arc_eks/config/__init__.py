"""Typed configuration: the stack config (platform team) and the team files (product teams)."""
