"""The offline review (`make review`): the stack program under Pulumi mocks, what it would create
written out and validated, and the policy pack run on it.

- `offline`: runs the program under mocks and captures every resource it registers;
- `artifacts`: the manifests, IAM documents and Helm values a reviewer reads, and their validation;
- `policies`: the policy pack with an environment's policy config;
- `charts`: the local cache of the pinned charts (`make charts`);
- `helm_render`: every Helm release rendered by Helm's engine from the cached chart;
- `run`: one environment's review end to end and its report (`python -m arc_eks.review`).

Importing the package imports none of them: tests that only need `offline` stay light.
"""
