"""Operator commands that talk to the real account: `make preflight` before `pulumi up`, `make
verify` after it. Read-only, with the operator's credentials; the stack program never imports
this package (it never calls AWS APIs itself)."""
