"""Every Helm release the program creates, rendered by Helm's own engine (helm-python-sdk, the Helm
v4 Go SDK in a wheel) as `helm install --dry-run` would: the pinned chart from the chart cache,
the exact values (secrets as masked placeholders), release name, namespace and the stack's
Kubernetes version.

Two calls per release, both Helm's: a client-only dry-run install, which enforces the chart's
`kubeVersion` constraint and its values.schema.json and renders like an install; and the engine's
render of every template, which also yields the hooks an install creates (the dry-run summary
holds only the manifest). Test hooks (`helm.sh/hook: test`) are not created by an install and are
left out. Rendered charts are cached per process (same chart, values and options: same output).
"""

from __future__ import annotations

import concurrent.futures
import copy
import functools
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml
from helm_python import _native

from arc_eks.review import charts
from arc_eks.review.offline import CapturedResource
from arc_eks.versions import KUBERNETES_VERSION

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
CLUSTER_TYPE = "eks:index:Cluster"
MASK = "***MASKED***"
HOOK_ANNOTATION = "helm.sh/hook"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Documents of a rendered template are separated by lines starting with `---`; what follows on
# such a line is not YAML (cert-manager's rbac.yaml has `---# Permission to ...`).
_SEPARATOR = re.compile(r"(?m)^---.*$")
# A client-only install needs a Config; nothing is contacted and releases live in memory.
_EMPTY_KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n"


class RenderError(Exception):
    """A release Helm refuses to install or render; the message names the release."""


@dataclass(frozen=True)
class ReleaseSpec:
    """What a `kubernetes:helm.sh/v3:Release` asks Helm to install."""

    resource: str
    """The Pulumi resource name (for messages)."""
    name: str
    chart: str
    version: str
    namespace: str
    values: dict[str, Any] = field(hash=False, compare=False)

    @property
    def label(self) -> str:
        return f"Helm release {self.name} ({self.chart} {self.version}, namespace {self.namespace})"


@dataclass(frozen=True)
class RenderedObject:
    """One object a release creates, and the template it comes from."""

    release: ReleaseSpec
    template: str
    manifest: dict[str, Any]

    @property
    def api_version(self) -> str:
        return str(self.manifest.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.manifest.get("metadata") or {}).get("name", ""))


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def release_specs(resources: Iterable[CapturedResource]) -> list[ReleaseSpec]:
    """The Helm releases among the captured resources (values with secrets masked)."""
    specs = []
    for resource in resources:
        if resource.type != RELEASE_TYPE:
            continue
        inputs = _integral(resource.plain_inputs(mask=MASK))
        # An OCI chart is given as its full reference (oci://<registry>/<path>/<chart>).
        chart = str(inputs["chart"])
        if chart.startswith("oci://"):
            chart = chart.rsplit("/", 1)[-1]
        specs.append(
            ReleaseSpec(
                resource=resource.name,
                name=str(inputs.get("name") or resource.name),
                chart=chart,
                version=str(inputs["version"]),
                namespace=str(inputs.get("namespace") or "default"),
                values=inputs.get("values") or {},
            )
        )
    return specs


def kube_version_of(resources: Iterable[CapturedResource]) -> str:
    """The stack's Kubernetes version (its cluster's `version`, else the pin) as Helm takes it."""
    for resource in resources:
        if resource.type == CLUSTER_TYPE and isinstance(resource.inputs.get("version"), str):
            return f"v{resource.inputs['version']}.0"
    return f"v{KUBERNETES_VERSION}.0"


def _is_test_hook(manifest: dict[str, Any]) -> bool:
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    hooks = str(annotations.get(HOOK_ANNOTATION, ""))
    return any(h.strip().startswith("test") for h in hooks.split(","))


@functools.lru_cache(maxsize=1)
def _config() -> helm.Config:
    return helm.Config(kubeconfig_content=_EMPTY_KUBECONFIG, storage_driver="memory")


def _dry_run_install(chart: helm.Chart, spec_json: str, values_json: str) -> None:
    """Helm's client-only install: kubeVersion constraint, values schema, render. helm-python-sdk
    0.2.2's `Config.install` does not pass `kube_version`, which its library's option set takes,
    so the library is called directly with the same arguments `install` would give it."""
    spec = json.loads(spec_json)
    options = {"namespace": spec["namespace"], "dry_run": "client", "kube_version": spec["kube"]}
    _native.call_string(
        "helm_install",
        _config()._raw(),
        _native.HANDLE(0),
        chart._raw(),
        None,
        spec["name"],
        values_json,
        json.dumps(options),
    )


def _render(chart: helm.Chart, spec_json: str, values_json: str) -> dict[str, str]:
    """Helm's engine over every template (hooks included), with the same release options."""
    spec = json.loads(spec_json)
    options = {
        "name": spec["name"],
        "namespace": spec["namespace"],
        "is_install": True,
        "kube_version": spec["kube"],
    }
    rendered: dict[str, str] = json.loads(
        _native.call_string("helm_render", chart._raw(), values_json, json.dumps(options))
    )
    return rendered


@functools.lru_cache(maxsize=512)
def _rendered_texts(
    folder: Path, spec_json: str, values_json: str, check_install: bool
) -> tuple[tuple[str, str], ...]:
    chart = charts.load_chart_at(folder)
    if check_install:
        _dry_run_install(chart, spec_json, values_json)
    return tuple(sorted(_render(chart, spec_json, values_json).items()))


def render_texts(
    spec: ReleaseSpec,
    kube_version: str,
    *,
    values: dict[str, Any] | None = None,
    check_install: bool = True,
    cache_dir: Path | None = None,
) -> tuple[tuple[str, str], ...]:
    """(template path, rendered text) of every template of the release's chart. `values`
    replaces the release's own (to see what a value changes). Raises `RenderError` naming the
    release, `charts.ChartCacheError` when the chart is not cached."""
    folder = charts.chart_dir(spec.chart, spec.version, cache_dir)
    spec_json = json.dumps({"name": spec.name, "namespace": spec.namespace, "kube": kube_version})
    values_json = json.dumps(spec.values if values is None else values, sort_keys=True)
    try:
        return _rendered_texts(folder, spec_json, values_json, check_install)
    except helm.HelmError as error:
        raise RenderError(f"{spec.label}: {str(error).strip()}") from error


def objects_of(spec: ReleaseSpec, texts: Iterable[tuple[str, str]]) -> list[RenderedObject]:
    """The objects an install creates from the rendered templates (test hooks and NOTES left out)."""
    out = []
    for template, text in texts:
        if not template.endswith((".yaml", ".yml", ".json")) or not text.strip():
            continue
        try:
            documents = [yaml.load(part, Loader=_LOADER) for part in _SEPARATOR.split(text)]
        except yaml.YAMLError as error:
            raise RenderError(f"{spec.label}: {template} is not valid YAML: {error}") from error
        for document in documents:
            if not document:
                continue
            if not isinstance(document, dict) or "kind" not in document:
                raise RenderError(f"{spec.label}: {template} renders a document without a kind")
            if _is_test_hook(document):
                continue
            out.append(RenderedObject(spec, template, document))
    return out


def render_release(
    spec: ReleaseSpec, kube_version: str, cache_dir: Path | None = None
) -> list[RenderedObject]:
    """Everything `helm install` of this release creates (the chart's crds/ aside)."""
    return objects_of(spec, render_texts(spec, kube_version, cache_dir=cache_dir))


def chart_crd_texts(spec: ReleaseSpec, cache_dir: Path | None = None) -> list[str]:
    """The CRDs in the release's chart's crds/ folder (installed by Helm before the templates)."""
    folder = charts.chart_dir(spec.chart, spec.version, cache_dir) / "crds"
    return [path.read_text() for path in sorted(folder.glob("*.yaml"))]


def captured(obj: RenderedObject, release_urn: str) -> CapturedResource:
    """A rendered object as a captured resource, so the policy pack sees it like any other."""
    group_version = obj.api_version if "/" in obj.api_version else f"core/{obj.api_version}"
    body = {k: v for k, v in obj.manifest.items() if k not in ("apiVersion", "kind")}
    body["apiVersion"], body["kind"] = obj.api_version, obj.kind
    name = f"{obj.release.name}/{obj.kind}/{obj.name}"
    return CapturedResource(
        type=f"kubernetes:{group_version}:{obj.kind}",
        name=name,
        urn=f"{release_urn}$rendered::{name}",
        inputs=body,
        custom=True,
        parent=release_urn,
    )


@dataclass
class RenderReport:
    """Every release rendered: the objects, the CRDs they bring, what Helm refused and the values
    the charts ignore."""

    objects: list[RenderedObject] = field(default_factory=list)
    resources: list[CapturedResource] = field(default_factory=list)
    """The objects as captured resources (children of their release), for the policy pack."""
    crd_texts: list[str] = field(default_factory=list)
    """CRDs of the charts' crds/ folders and of rendered templates (cert-manager's)."""
    errors: list[str] = field(default_factory=list)


def _masked(manifest: dict[str, Any]) -> dict[str, Any]:
    """A rendered Secret with its values masked (charts may generate keys or certificates)."""
    if manifest.get("kind") != "Secret":
        return manifest
    out = dict(manifest)
    for key in ("data", "stringData"):
        if isinstance(out.get(key), dict):
            out[key] = dict.fromkeys(out[key], MASK)
    return out


def render_all(
    resources: list[CapturedResource],
    cache_dir: Path | None = None,
    *,
    check_ignored: bool = True,
) -> RenderReport:
    """Render every Helm release among `resources` at the stack's Kubernetes version, and (with
    `check_ignored`, as `make review` runs) find the values each sets that its chart ignores."""
    report = RenderReport()
    kube_version = kube_version_of(resources)
    urns = {r.name: r.urn for r in resources if r.type == RELEASE_TYPE}
    for spec in release_specs(resources):
        try:
            texts = render_texts(spec, kube_version, cache_dir=cache_dir)
            objects = objects_of(spec, texts)
        except RenderError as error:
            report.errors.append(str(error))
            continue
        try:
            ignored = ignored_values(spec, kube_version, cache_dir) if check_ignored else []
        except RenderError as error:
            report.errors.append(str(error))
            ignored = []
        report.errors += [
            f"{spec.label}: value {path} is set but changes nothing the chart renders "
            "(the chart ignores it: drop it, or set the key the chart reads)"
            for path in ignored
        ]
        report.crd_texts += chart_crd_texts(spec, cache_dir)
        crd_templates = {o.template for o in objects if o.kind == "CustomResourceDefinition"}
        report.crd_texts += [text for template, text in texts if template in crd_templates]
        for raw in objects:
            obj = RenderedObject(raw.release, raw.template, _masked(raw.manifest))
            report.objects.append(obj)
            report.resources.append(captured(obj, urns[spec.resource]))
    return report


# --- values the chart ignores ---------------------------------------------------------------------


def leaf_paths(values: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Paths of what a values tree sets: scalars, lists and empty maps are leaves."""
    if isinstance(values, dict) and values:
        for key, value in values.items():
            yield from leaf_paths(value, (*prefix, str(key)))
    elif prefix:
        yield prefix


def _changed(value: Any) -> Any:
    """A different value of the same shape: what a template that reads the key would show."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return f"{value}-changed"
    if isinstance(value, list):
        return [] if value else ["changed"]
    if isinstance(value, dict):
        return {"changed": "changed"}
    return "changed"


def _with_changed(values: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out = copy.deepcopy(values)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = _changed(node[path[-1]])
    return out


def _comparable(texts: Iterable[tuple[str, str]], unstable: frozenset[str]) -> dict[str, str]:
    return {t: text for t, text in texts if not t.endswith("NOTES.txt") and t not in unstable}


def _marker(index: int, value: Any) -> Any:
    """A value of the leaf's shape that no template would produce unless it read the leaf."""
    text = f"zzleaf{index:04d}zz"
    if isinstance(value, bool):
        return None  # two values only: proven by rendering it flipped
    if isinstance(value, int | float):
        return 7_340_000 + index
    if isinstance(value, list):
        return [text]
    if isinstance(value, dict):
        return {text: text}
    return text


def _set(values: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = values
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _get(values: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = values
    for key in path:
        node = node[key]
    return node


def ignored_values(
    spec: ReleaseSpec, kube_version: str, cache_dir: Path | None = None
) -> list[str]:
    """See `_ignored_values`; remembered per process for the same chart, values and version."""
    key = (
        spec.chart,
        spec.version,
        spec.name,
        spec.namespace,
        json.dumps(spec.values, sort_keys=True),
    )
    if (key, kube_version, cache_dir) not in _IGNORED:
        _IGNORED[(key, kube_version, cache_dir)] = _ignored_values(spec, kube_version, cache_dir)
    return list(_IGNORED[(key, kube_version, cache_dir)])


_IGNORED: dict[Any, list[str]] = {}


def _ignored_values(
    spec: ReleaseSpec, kube_version: str, cache_dir: Path | None = None
) -> list[str]:
    """Dotted paths of the values the release sets that change nothing the chart renders.

    First one render with every leaf that can carry one replaced by a unique marker (a string,
    a number, a one-item list or map): a leaf whose marker shows in the output is read. Every
    other leaf (booleans, values the chart transforms) is rendered changed on its own (a flipped
    bool, another string, number or list); if no manifest changes, the chart ignores it. A change
    Helm refuses (schema, template `fail`) shows the key is read. Templates that render differently
    on every run (random certificates) are left out of the comparison."""
    base = render_texts(spec, kube_version, check_install=False, cache_dir=cache_dir)
    again = _render_uncached(spec, kube_version, spec.values, cache_dir)
    unstable = frozenset(t for t, text in base if dict(again).get(t) != text)
    reference = _comparable(base, unstable)
    paths = list(leaf_paths(spec.values))

    marked = copy.deepcopy(spec.values)
    markers: dict[tuple[str, ...], str] = {}
    for index, path in enumerate(paths):
        marker = _marker(index, _get(spec.values, path))
        if marker is not None:
            _set(marked, path, marker)
            markers[path] = (
                json.dumps(marker)[1:-1]
                if isinstance(marker, str)
                else str(marker if isinstance(marker, int) else f"zzleaf{index:04d}zz")
            )
    proven: set[tuple[str, ...]] = set()
    if markers:
        try:
            output = "\n".join(
                text
                for _, text in render_texts(
                    spec, kube_version, values=marked, check_install=False, cache_dir=cache_dir
                )
            )
            proven = {path for path, marker in markers.items() if marker in output}
        except RenderError:
            pass  # some marker is refused: every leaf is checked on its own below

    def unchanged(path: tuple[str, ...]) -> bool:
        values = _with_changed(spec.values, path)
        try:
            texts = render_texts(
                spec, kube_version, values=values, check_install=False, cache_dir=cache_dir
            )
        except RenderError:
            return False
        return _comparable(texts, unstable) == reference

    rest = [p for p in paths if p not in proven]
    # Helm's engine runs in Go without the GIL: renders of one chart proceed in parallel.
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        verdicts = list(pool.map(unchanged, rest))
    return [".".join(p) for p, same in zip(rest, verdicts, strict=True) if same]


def _render_uncached(
    spec: ReleaseSpec, kube_version: str, values: dict[str, Any], cache_dir: Path | None
) -> tuple[tuple[str, str], ...]:
    folder = charts.chart_dir(spec.chart, spec.version, cache_dir)
    spec_json = json.dumps({"name": spec.name, "namespace": spec.namespace, "kube": kube_version})
    try:
        rendered = _render(charts.load_chart_at(folder), spec_json, json.dumps(values))
    except helm.HelmError as error:
        raise RenderError(f"{spec.label}: {str(error).strip()}") from error
    return tuple(sorted(rendered.items()))
