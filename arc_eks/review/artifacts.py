"""What a reviewer reads: the Kubernetes manifests, IAM documents and Helm values a run would
apply, written to a folder and validated (the CRDs of the pinned charts, Kubernetes schemas,
IAM lint).

Secrets are masked everywhere: Pulumi secrets by their marker, and every value under a Secret's
`data`/`stringData` whatever its marking.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from jsonschema.protocols import Validator
from kubernetes_validate import utils as kubernetes_validate_utils
from parliament import analyze_policy_string
from parliament import config as parliament_config

from arc_eks.review import charts
from arc_eks.review.offline import CapturedResource
from arc_eks.versions import KUBERNETES_VERSION

MASK = "***MASKED***"
# Document separators of rendered templates: lines starting with `---` (possibly `---# comment`).
_DOCUMENT_SEPARATOR = re.compile(r"(?m)^---.*$")
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: 10x faster
NOT_MANIFESTS = ("kubernetes:helm.sh/", "pulumi:providers:")
IAM_PERMISSION_TYPES = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
# Parliament findings at these severities make an IAM document invalid; lower ones are printed.
FAILING_IAM_SEVERITIES = {"MEDIUM", "HIGH", "CRITICAL"}
# Actions whose resource types parliament 1.6.4's bundled IAM data lacks (it says they take only
# "*"): the Service Authorization Reference for Amazon ECR lists `repository*` for
# ecr:BatchImportUpstreamImage. A RESOURCE_MISMATCH naming only these is printed, not failed.
PARLIAMENT_OUTDATED_RESOURCE_TYPES = frozenset({"ecr:BatchImportUpstreamImage"})

# kubernetes_validate re-reads its (large) schema files on every call; the files never change
# during a run, so read each once. This keeps validation linear and cheap for 1,000 pools.
kubernetes_validate_utils.schema_contents = functools.lru_cache(maxsize=None)(
    kubernetes_validate_utils.schema_contents
)


@dataclass(frozen=True)
class Artifact:
    """One file for the reviewer: where it goes, what it holds, where it came from."""

    relative_path: str
    content: Any
    kind: str  # "kubernetes", "iam", "helm"
    source: CapturedResource


@dataclass
class ValidationReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "unnamed"


def integral(value: Any) -> Any:
    """Numbers as written: the engine carries every number as a float (1001.0 -> 1001)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral(v) for v in value]
    return value


def api_version_and_kind(resource_type: str) -> tuple[str, str]:
    """`kubernetes:apps/v1:Deployment` -> ("apps/v1", "Deployment"); core/v1 -> "v1"."""
    _, group_version, kind = resource_type.split(":", 2)
    return group_version.removeprefix("core/"), kind


def masked_manifest(resource: CapturedResource) -> dict[str, Any]:
    """The object as it would be applied, secrets masked."""
    api_version, kind = api_version_and_kind(resource.type)
    body = integral(resource.plain_inputs(mask=MASK))
    manifest: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    manifest.update({k: v for k, v in body.items() if v is not None})
    manifest["apiVersion"], manifest["kind"] = api_version, kind
    if kind == "Secret":
        manifest.update(masked_secret_data(resource))
    return manifest


def masked_secret_data(resource: CapturedResource) -> dict[str, Any]:
    """A Secret's `data`/`stringData` with every value masked but its keys kept (the whole map
    is often one Pulumi secret)."""
    revealed = resource.plain_inputs()
    return {
        key: dict.fromkeys(revealed[key], MASK)
        for key in ("data", "stringData")
        if isinstance(revealed.get(key), dict)
    }


def _iam_documents(resource: CapturedResource) -> Iterator[tuple[str, Any]]:
    inputs = resource.plain_inputs(mask=MASK)
    if resource.type == "aws:iam/role:Role":
        if inputs.get("assumeRolePolicy") is not None:
            yield "trust", inputs["assumeRolePolicy"]
        for index, inline in enumerate(inputs.get("inlinePolicies") or []):
            if isinstance(inline, dict) and inline.get("policy"):
                yield f"inline-{index}", inline["policy"]
    elif resource.type in IAM_PERMISSION_TYPES:
        document = inputs.get(IAM_PERMISSION_TYPES[resource.type])
        if document is not None:
            yield "policy", document


def collect(resources: list[CapturedResource]) -> list[Artifact]:
    """Every manifest, IAM document and Helm values file of a run, with its file name."""
    out: list[Artifact] = []
    for resource in resources:
        if resource.type.startswith("kubernetes:") and resource.custom:
            if resource.type.startswith(NOT_MANIFESTS):
                inputs = integral(resource.plain_inputs(mask=MASK))
                out.append(Artifact(f"helm/{_slug(resource.name)}.yaml", inputs, "helm", resource))
                continue
            manifest = masked_manifest(resource)
            metadata = manifest.get("metadata") or {}
            namespace = metadata.get("namespace") or "_cluster"
            name = metadata.get("name") or resource.name
            path = f"kubernetes/{_slug(namespace)}/{manifest['kind']}-{_slug(str(name))}.yaml"
            out.append(Artifact(path, manifest, "kubernetes", resource))
        for suffix, document in _iam_documents(resource):
            parsed = json.loads(document) if isinstance(document, str) else document
            out.append(
                Artifact(f"iam/{_slug(resource.name)}.{suffix}.json", parsed, "iam", resource)
            )
    return out


def rendered(resources: list[CapturedResource]) -> list[Artifact]:
    """The objects the Helm releases create (`helm_render.RenderReport.resources`), one file each
    under rendered/<release>/, beside the program's own objects."""
    out = []
    for resource in resources:
        release, kind, name = resource.name.split("/", 2)
        manifest = resource.inputs
        path = f"rendered/{_slug(release)}/{kind}-{_slug(name)}.yaml"
        out.append(Artifact(path, manifest, "kubernetes", resource))
    return out


def write(artifacts: list[Artifact], out_dir: Path) -> None:
    """Write the artifacts under `out_dir` (replacing the files of a previous review)."""
    for sub in ("kubernetes", "iam", "helm", "rendered"):
        folder = out_dir / sub
        if folder.is_dir():
            for old in sorted(folder.rglob("*"), reverse=True):
                old.unlink() if old.is_file() else old.rmdir()
    for artifact in artifacts:
        target = out_dir / artifact.relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        if artifact.kind == "iam":
            target.write_text(json.dumps(artifact.content, indent=2, sort_keys=False) + "\n")
        else:
            target.write_text(yaml.dump(artifact.content, Dumper=_DUMPER, sort_keys=False))


def _strict(schema: Any) -> Any:
    """A CRD schema that also refuses unknown fields (the API server would silently prune them)."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=1024)
def _crd_head(document: str) -> tuple[str, str] | None:
    """(group, kind) of a CRD document, read from what precedes its (large) `versions` list."""
    cut = document.find("\n  versions:")
    try:
        head = yaml.load(document[:cut] if cut > 0 else document, Loader=_LOADER)
    except yaml.YAMLError:
        head = yaml.load(document, Loader=_LOADER)
    if not isinstance(head, dict) or head.get("kind") != "CustomResourceDefinition":
        return None
    spec = head.get("spec") or {}
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    return (str(group), str(kind)) if group and kind else None


@functools.lru_cache(maxsize=256)
def _validators_of(document: str) -> dict[tuple[str, str], Validator]:
    """(apiVersion, kind) -> strict validator of every version of one CRD document."""
    crd = yaml.load(document, Loader=_LOADER)
    spec = crd.get("spec") or {}
    kind = (spec.get("names") or {}).get("kind")
    out: dict[tuple[str, str], Validator] = {}
    for version in spec.get("versions") or []:
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not schema or not kind:
            continue
        strict = _strict(schema)
        strict.setdefault("properties", {})["metadata"] = {"type": "object"}
        out[(f"{spec['group']}/{version['name']}", kind)] = jsonschema.Draft7Validator(strict)
    return out


class CrdValidators:
    """(apiVersion, kind) -> strict validator, from CRD YAML texts (later texts win on a kind).

    CRD files are large: each is indexed by its head and parsed in full only when an object of
    its kind is validated, once per process."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.texts = list(texts)
        self._documents: dict[tuple[str, str], str] = {}
        for text in self.texts:
            for document in _DOCUMENT_SEPARATOR.split(text):
                head = _crd_head(document) if "CustomResourceDefinition" in document else None
                if head is not None:
                    self._documents[head] = document

    def __add__(self, other: CrdValidators) -> CrdValidators:
        return CrdValidators([*self.texts, *other.texts])

    def kinds(self) -> set[tuple[str, str]]:
        """(group, kind) of every CRD."""
        return set(self._documents)

    def get(self, key: tuple[str, str]) -> Validator | None:
        api_version, kind = key
        document = self._documents.get((api_version.rpartition("/")[0], kind))
        return None if document is None else _validators_of(document).get(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and self.get(key) is not None


def crd_validators(texts: Iterable[str]) -> CrdValidators:
    """Validators of every CRD in the given YAML texts."""
    return CrdValidators(texts)


def chart_crd_validators(cache_dir: Path | None = None) -> CrdValidators:
    """The CRDs the pinned charts ship in crds/ (ARC 0.23.7's, the scale-set controller's), from
    the chart cache; a chart missing from the cache raises `charts.ChartCacheError`."""
    return _chart_crd_validators(cache_dir or charts.cache_dir_of())


@functools.lru_cache(maxsize=4)
def _chart_crd_validators(cache_dir: Path) -> CrdValidators:
    return CrdValidators(charts.crd_texts(cache_dir))


def _count(report: ValidationReport, what: str) -> None:
    report.checked[what] = report.checked.get(what, 0) + 1


def _validate_manifest(artifact: Artifact, crds: CrdValidators, report: ValidationReport) -> None:
    manifest = artifact.content
    key = (manifest["apiVersion"], manifest["kind"])
    validator = crds.get(key)
    if validator is not None:
        for error in validator.iter_errors(manifest):
            where = ".".join(str(p) for p in error.absolute_path) or "(root)"
            report.errors.append(f"{artifact.relative_path}: {where}: {error.message}")
        _count(report, "custom resources (CRD schema)")
        return
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(p) for p in error.path) or "(root)"
        report.errors.append(f"{artifact.relative_path}: {where}: {error.message}")
    except kubernetes_validate.SchemaNotFoundError:
        report.errors.append(
            f"{artifact.relative_path}: {key[1]} ({key[0]}) is neither a built-in kind of "
            f"Kubernetes {KUBERNETES_VERSION} nor defined by a CRD of the pinned charts"
        )
        return
    _count(report, "built-in objects (Kubernetes schema, strict)")


def _lint_iam(artifact: Artifact, report: ValidationReport) -> None:
    if artifact.relative_path.endswith(".trust.json"):
        return  # parliament audits identity policies; trust policies are the IRSA rule's job
    result = analyze_policy_string(json.dumps(artifact.content))
    for finding in result.findings:
        severity = parliament_config.get(finding.issue, {}).get("severity", "MEDIUM")
        line = (
            f"{artifact.relative_path}: parliament {finding.issue} ({severity}): {finding.detail}"
        )
        outdated = _outdated_parliament_data(finding)
        if outdated:
            line += " (parliament's data lacks this action's resource type: the Service "
            line += "Authorization Reference lists repository*)"
        failing = severity in FAILING_IAM_SEVERITIES and not outdated
        (report.errors if failing else report.warnings).append(line)
    _count(report, "IAM policies (parliament)")


def _outdated_parliament_data(finding: Any) -> bool:
    if finding.issue != "RESOURCE_MISMATCH" or not isinstance(finding.detail, list):
        return False
    actions = {d.get("action") for d in finding.detail if isinstance(d, dict)}
    return bool(actions) and actions <= PARLIAMENT_OUTDATED_RESOURCE_TYPES


def validate(artifacts: list[Artifact], crds: CrdValidators) -> ValidationReport:
    """Every manifest against its schema (custom kinds: `crds`; built-in kinds: Kubernetes's, strict,
    at the pinned minor) and every IAM permission policy through parliament."""
    report = ValidationReport()
    for artifact in artifacts:
        if artifact.kind == "kubernetes":
            _validate_manifest(artifact, crds, report)
        elif artifact.kind == "iam":
            _lint_iam(artifact, report)
    return report
