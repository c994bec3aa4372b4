"""`summary.json`: what one review found, for a reviewer and for CI (`review_markdown` diffs two).

Written on every exit path of `python -m arc_eks.review` (a config error, invalid objects,
violations, a pass), so a file never describes an earlier run. Ordered deterministically (lists
sorted, keys sorted) and numbers as written (the engine carries every number as a float: 3.0 -> 3).

The words mean one thing everywhere (the review's text output, this file, the PR summary, docs):
- **mandatory**: a violation of a rule enforced as `mandatory` in this environment; fails the review.
- **advisory**: a violation of a rule enforced as `advisory` in this environment; reported, never
  fails the review.
- **skipped**: a rule could not check a value unknown offline; neither a violation nor a failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arc_eks.review.artifacts import MASK, integral, masked_manifest, masked_secret_data
from arc_eks.review.offline import CapturedResource

if TYPE_CHECKING:
    from arc_eks.review.run import ReviewResult

SCHEMA_VERSION = 1
FILE_NAME = "summary.json"
VERDICTS = {0: "PASS", 1: "FAIL", 2: "INVALID CONFIGURATION"}
CLUSTER_ADMIN_POLICY_SUFFIX = ":cluster-access-policy/AmazonEKSClusterAdminPolicy"
POD_SECURITY_MODES = ("enforce", "audit", "warn")
_POD_SECURITY_LABEL = "pod-security.kubernetes.io/"
_BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
_ROLE_KINDS = ("Role", "ClusterRole")
_VALUE_CHARS = 200
# Objects whose fields are not listed (only their digest): large and not what a reviewer reads.
_DIGEST_ONLY_KINDS = ("CustomResourceDefinition",)


def _kind(resource_type: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


def _is_kubernetes_object(resource: CapturedResource) -> bool:
    return (
        resource.type.startswith("kubernetes:")
        and resource.custom
        and not resource.type.startswith(("kubernetes:helm.sh/", "pulumi:providers:"))
    )


def _body(resource: CapturedResource, rendered: bool) -> dict[str, Any]:
    """The object as the reviewer reads it: secrets masked, numbers as written."""
    if rendered:
        body: dict[str, Any] = integral(resource.inputs)
        if body.get("kind") == "Secret":
            body = {**body, **masked_secret_data(resource)}
        return body
    if _is_kubernetes_object(resource):
        return masked_manifest(resource)
    out: dict[str, Any] = integral(resource.plain_inputs(mask=MASK))
    if resource.type == "kubernetes:core/v1:Secret":
        out.update(masked_secret_data(resource))
    return out


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, str) and value.startswith(("{", "[")):
        # IAM documents and other JSON strings: compare them field by field
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(value)
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{index}]")
    else:
        yield prefix or "(root)", value


def _short(value: Any) -> str:
    text = json.dumps(integral(value), sort_keys=True)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 3] + "..."


def _object_entry(resource: CapturedResource, rendered: bool) -> dict[str, Any]:
    body = _body(resource, rendered)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    entry: dict[str, Any] = {
        "type": resource.type,
        "name": resource.name,
        "digest": digest[:16],
    }
    if rendered:
        entry["renderedFrom"] = resource.name.split("/", 1)[0]
    if str(body.get("kind")) not in _DIGEST_ONLY_KINDS:
        entry["fields"] = {path: _short(value) for path, value in _flatten(body)}
    return entry


def _manifests(result: ReviewResult) -> Iterator[dict[str, Any]]:
    for resource in result.resources:
        if _is_kubernetes_object(resource):
            yield masked_manifest(resource)
    for resource in result.rendered:
        yield integral(resource.inputs)


def namespaces(result: ReviewResult) -> list[dict[str, Any]]:
    """Every Namespace the review creates, with its Pod Security Admission levels."""
    return _namespaces(_manifests(result))


def _namespaces(manifests: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = {}
    for manifest in manifests:
        if manifest.get("kind") != "Namespace":
            continue
        metadata = manifest.get("metadata") or {}
        labels = metadata.get("labels") or {}
        levels = {
            mode: str(labels[f"{_POD_SECURITY_LABEL}{mode}"])
            for mode in POD_SECURITY_MODES
            if f"{_POD_SECURITY_LABEL}{mode}" in labels
        }
        name = str(metadata.get("name") or "")
        # No enforce label: the cluster default applies (privileged unless the API server's
        # admission configuration says otherwise).
        out[name] = {"name": name, "podSecurity": {"enforce": "(unset)", **levels}}
    return [out[name] for name in sorted(out)]


def _is_wildcard_rule(rule: Mapping[str, Any]) -> bool:
    verbs = rule.get("verbs") or []
    resources = rule.get("resources") or []
    return "*" in verbs and ("*" in resources or rule.get("nonResourceURLs") == ["*"])


def cluster_admins(result: ReviewResult) -> list[dict[str, str]]:
    """Who gets cluster-wide admin: EKS access entries with AmazonEKSClusterAdminPolicy, and
    bindings to cluster-admin or to a role granting every verb on every resource."""
    manifests = list(_manifests(result))
    admins: list[dict[str, str]] = []
    for resource in result.resources:
        if resource.type != "eks:index:Cluster":
            continue
        entries = resource.plain_inputs(mask=MASK).get("accessEntries") or {}
        for key, entry in sorted(entries.items()) if isinstance(entries, dict) else []:
            policies = (entry or {}).get("accessPolicies") or {}
            for association in policies.values() if isinstance(policies, dict) else []:
                arn = str((association or {}).get("policyArn") or "")
                if arn.endswith(CLUSTER_ADMIN_POLICY_SUFFIX):
                    admins.append(
                        {
                            "via": f"EKS access entry {key} (AmazonEKSClusterAdminPolicy)",
                            "subject": str(entry.get("principalArn")),
                        }
                    )
    wildcard_roles = {
        (str(m.get("kind")), str((m.get("metadata") or {}).get("name")))
        for m in manifests
        if m.get("kind") in _ROLE_KINDS
        and any(_is_wildcard_rule(rule) for rule in m.get("rules") or [])
    }
    for manifest in manifests:
        if manifest.get("kind") not in _BINDING_KINDS:
            continue
        role = manifest.get("roleRef") or {}
        ref = (str(role.get("kind")), str(role.get("name")))
        if ref != ("ClusterRole", "cluster-admin") and ref not in wildcard_roles:
            continue
        metadata = manifest.get("metadata") or {}
        scope = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
        where = f"{manifest['kind']} {scope}{metadata.get('name')}"
        for subject in manifest.get("subjects") or []:
            namespace = f"{subject['namespace']}/" if subject.get("namespace") else ""
            admins.append(
                {
                    "via": f"{where} -> {ref[0]} {ref[1]}",
                    "subject": f"{subject.get('kind')} {namespace}{subject.get('name')}",
                }
            )
    return sorted(admins, key=lambda a: (a["subject"], a["via"]))


def _finding(finding: Any) -> dict[str, Any]:
    return {
        "policy": finding.policy,
        "enforcementLevel": "skipped" if finding.skipped else finding.level.value,
        "message": finding.message,
        "urn": finding.urn or "",
    }


def build(result: ReviewResult) -> dict[str, Any]:
    """The summary of one review (whatever stage it reached)."""
    findings = sorted(
        (_finding(f) for f in result.findings),
        key=lambda f: (f["enforcementLevel"], f["policy"], f["urn"], f["message"]),
    )
    objects = [_object_entry(r, rendered=False) for r in result.resources]
    objects += [_object_entry(r, rendered=True) for r in result.rendered]
    objects.sort(key=lambda o: (o["type"], o["name"]))
    return {
        "schemaVersion": SCHEMA_VERSION,
        "stack": result.stack,
        "exitCode": result.exit_code,
        "verdict": VERDICTS[result.exit_code],
        "counts": {
            "resources": len(result.resources),
            "rendered": len(result.rendered),
            "mandatory": len(result.mandatory),
            "advisory": len(result.advisory),
            "skipped": sum(1 for f in result.findings if f.skipped),
            "invalid": len(result.validation.errors),
            "configProblems": len(result.config_errors),
        },
        "resourceTypes": dict(sorted(Counter(r.type for r in result.resources).items())),
        "configProblems": sorted(result.config_errors),
        "invalid": sorted(result.validation.errors),
        "warnings": sorted(result.validation.warnings),
        "violations": [f for f in findings if f["enforcementLevel"] != "skipped"],
        "skipped": [f for f in findings if f["enforcementLevel"] == "skipped"],
        "clusterAdmins": cluster_admins(result),
        "namespaces": namespaces(result),
        "objects": objects,
    }


def write(summary: Mapping[str, Any], out_dir: Path) -> Path:
    """Write `summary.json` (replacing any earlier one) and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE_NAME
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return path
