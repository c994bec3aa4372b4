"""arc-eks CrossGuard rules, one module per scope; `registry.ALL_POLICIES` lists them all.

This package runs inside the policy pack's own virtualenv: it imports only the standard library and
`pulumi_policy`, never `arc_eks`.
"""
