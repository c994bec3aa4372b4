"""The local cache of the pinned charts (arc_eks/versions.py `pinned_charts`): `make charts`.

One folder, `.cache/charts/<chart>-<version>/<chart>/` in the project (gitignored; or
$ARC_EKS_CHART_CACHE), serves
`make review` and the tests. `make charts` fills what is missing:

- from `../shared/reference/charts/<chart>-<version>/<chart>/` when that folder exists (CI has no
  route to chart repositories);
- otherwise by pulling the pinned version once: from an https chart repository through its
  index.yaml, the archive's sha256 checked against the index's `digest`; from an oci:// registry
  through Helm's own pull (the registry addresses every blob by its digest).

After that everything is offline. A chart missing from the cache is an error naming the command
that fills it (`ChartCacheError`), never a skipped check.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import shutil
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

from arc_eks.versions import PROMETHEUS_OPERATOR_CRDS, ChartPin, CrdBundlePin, pinned_charts

CACHE_ENV = "ARC_EKS_CHART_CACHE"
FILL_COMMAND = "make charts"
PULL_TIMEOUT_SECONDS = 120.0
# The optional CRD bundles: a machine without a route to their source should not wait long.
CRD_FETCH_TIMEOUT_SECONDS = 20.0
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Fetches a URL with a deadline and returns its bytes (swapped in tests for a loopback server).
Fetch = Callable[[str, float], bytes]


class ChartCacheError(RuntimeError):
    """A pinned chart is absent or wrong in the cache, or could not be pulled."""


def cache_dir_of(project_dir: Path | None = None) -> Path:
    """`.cache/charts` in the project folder (default: the current folder), or $ARC_EKS_CHART_CACHE
    (so a copy of the project, e.g. a mutation run, can share one cache)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).resolve()
    return ((project_dir or Path.cwd()) / ".cache" / "charts").resolve()


def reference_charts_of(project_dir: Path | None = None) -> Path:
    """Where a checkout beside ../shared finds the released chart folders."""
    return (project_dir or Path.cwd()).resolve().parent / "shared" / "reference" / "charts"


def chart_dir(name: str, version: str, cache_dir: Path | None = None) -> Path:
    """The cached chart folder of a pinned chart; an error naming `make charts` when absent."""
    cache = cache_dir or cache_dir_of()
    folder = cache / f"{name}-{version}" / name
    if not (folder / "Chart.yaml").is_file():
        raise ChartCacheError(
            f"chart {name} {version} is not in the chart cache {cache}: run `{FILL_COMMAND}`"
        )
    return folder


def load_chart(name: str, version: str, cache_dir: Path | None = None) -> helm.Chart:
    """The cached chart loaded by Helm (once per process and folder; Helm charts are immutable)."""
    return load_chart_at(chart_dir(name, version, cache_dir))


@functools.cache
def load_chart_at(folder: Path) -> helm.Chart:
    """A chart folder loaded by Helm, once per process."""
    return helm.Chart.load(folder)


def crd_texts(cache_dir: Path) -> list[str]:
    """The YAML text of every CRD file under crds/ of the pinned charts in the cache, and of the
    pinned CRD bundles that are cached (`crd_bundle_texts`)."""
    texts = []
    for pin in pinned_charts():
        folder = chart_dir(pin.name, pin.version, cache_dir) / "crds"
        texts += [path.read_text() for path in sorted(folder.glob("*.yaml"))]
    return texts + crd_bundle_texts(PROMETHEUS_OPERATOR_CRDS, cache_dir)


def crd_bundle_dir(pin: CrdBundlePin, cache_dir: Path) -> Path:
    return cache_dir / f"{pin.name}-{pin.version}" / "crds"


def crd_bundle_texts(pin: CrdBundlePin, cache_dir: Path) -> list[str]:
    """The pinned CRD files when they are in the cache (digests checked), else []: a custom
    resource of such a kind is then reported as of an unknown kind by the review."""
    folder = crd_bundle_dir(pin, cache_dir)
    if not folder.is_dir():
        return []
    texts = []
    for file, digest in sorted(pin.files.items()):
        data = (folder / file).read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise ChartCacheError(
                f"{folder / file} does not have the sha256 pinned in arc_eks/versions.py: "
                f"delete {folder.parent} and run `{FILL_COMMAND}`"
            )
        texts.append(data.decode())
    return texts


def fill_crd_bundle(
    pin: CrdBundlePin, cache_dir: Path, reference_dir: Path, fetch: Fetch | None = None
) -> str:
    """Put a pinned CRD bundle into the cache: from `reference_dir/<name>-<version>/` when that
    folder exists, else downloaded from the pin's URL; every file's sha256 checked against the
    pin, all or nothing. Returns what it did; a source that cannot be reached is reported, not
    raised (the bundle is optional: only stacks with monitoring.mode prometheusOperator need it,
    and their review says so)."""
    target = crd_bundle_dir(pin, cache_dir)
    if target.is_dir():
        return f"{pin.name} {pin.version}: cached"
    local = reference_dir / f"{pin.name}-{pin.version}"
    contents: dict[str, bytes] = {}
    try:
        for file, digest in sorted(pin.files.items()):
            if local.is_dir():
                data = (local / file).read_bytes()
            else:
                data = (fetch or _urlopen)(pin.base_url + file, CRD_FETCH_TIMEOUT_SECONDS)
            actual = hashlib.sha256(data).hexdigest()
            if actual != digest:
                raise ChartCacheError(f"{file}: sha256 {actual}, pinned {digest}")
            contents[file] = data
    except (OSError, ChartCacheError) as error:
        return f"{pin.name} {pin.version}: NOT cached ({error})"
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{pin.name}-", dir=cache_dir))
    try:
        (staging / "crds").mkdir()
        for file, data in contents.items():
            (staging / "crds" / file).write_bytes(data)
        staging.rename(target.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return f"{pin.name} {pin.version}: " + (f"copied from {local}" if local.is_dir() else "pulled")


def _check_metadata(folder: Path, pin: ChartPin) -> None:
    meta = yaml.load((folder / "Chart.yaml").read_text(), Loader=_LOADER) or {}
    if meta.get("name") != pin.name or str(meta.get("version")) != pin.version:
        raise ChartCacheError(
            f"{folder}/Chart.yaml is {meta.get('name')} {meta.get('version')}, "
            f"expected the pin {pin.name} {pin.version}"
        )


def _install(source: Path, pin: ChartPin, cache_dir: Path) -> None:
    """Copy a chart folder into the cache, all or nothing (a half copy is never left behind)."""
    _check_metadata(source, pin)
    target = cache_dir / f"{pin.name}-{pin.version}"
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{pin.name}-", dir=cache_dir))
    try:
        shutil.copytree(source, staging / pin.name)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _urlopen(url: str, timeout: float) -> bytes:
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise ChartCacheError(f"refusing to fetch {url}: not an http(s) URL")
    with urllib.request.urlopen(url, timeout=timeout) as response:
        data: bytes = response.read()
    return data


def _index_entry(index: dict[str, Any], pin: ChartPin) -> dict[str, Any]:
    for entry in (index.get("entries") or {}).get(pin.name) or []:
        if isinstance(entry, dict) and str(entry.get("version")) == pin.version:
            return entry
    raise ChartCacheError(f"{pin.repository}/index.yaml has no {pin.name} {pin.version}")


def pull_from_index(pin: ChartPin, workdir: Path, fetch: Fetch = _urlopen) -> Path:
    """Download a chart archive through an https repository's index.yaml, check its sha256
    against the index's digest, and unpack it with Helm. Returns the chart folder."""
    base = pin.repository.rstrip("/") + "/"
    index = yaml.load(fetch(base + "index.yaml", PULL_TIMEOUT_SECONDS), Loader=_LOADER) or {}
    entry = _index_entry(index, pin)
    digest = str(entry.get("digest") or "").removeprefix("sha256:")
    urls = entry.get("urls") or []
    if not digest or not urls:
        raise ChartCacheError(
            f"{base}index.yaml lists {pin.name} {pin.version} without a digest or a URL: "
            "its integrity cannot be checked"
        )
    archive_url = urllib.parse.urljoin(base, str(urls[0]))
    data = fetch(archive_url, PULL_TIMEOUT_SECONDS)
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ChartCacheError(
            f"{archive_url}: sha256 {actual} does not match the digest {digest} of {base}index.yaml"
        )
    archive = workdir / f"{pin.name}-{pin.version}.tgz"
    archive.write_bytes(data)
    helm.expand(workdir / "expanded", archive)
    return workdir / "expanded" / pin.name


def pull_from_oci(pin: ChartPin, workdir: Path) -> Path:
    """Helm's pull of `oci://<registry>/<chart>:<version>`, with a deadline."""
    outcome: list[BaseException | None] = []

    def pull() -> None:
        try:
            helm.pull(
                f"{pin.repository.rstrip('/')}/{pin.name}",
                version=pin.version,
                destination=workdir,
                untar=True,
                untar_dir=workdir / "expanded",
            )
            outcome.append(None)
        except BaseException as error:  # reported below, in the caller's thread
            outcome.append(error)

    worker = threading.Thread(target=pull, daemon=True)
    worker.start()
    worker.join(PULL_TIMEOUT_SECONDS)
    if not outcome:
        raise ChartCacheError(
            f"pulling {pin.repository}/{pin.name} {pin.version} took over {PULL_TIMEOUT_SECONDS}s"
        )
    if outcome[0] is not None:
        raise ChartCacheError(f"pulling {pin.repository}/{pin.name} {pin.version}: {outcome[0]}")
    return workdir / "expanded" / pin.name


def fill(
    pins: Iterable[ChartPin] | None = None,
    *,
    cache_dir: Path | None = None,
    reference_charts: Path | None = None,
    fetch: Fetch = _urlopen,
) -> list[str]:
    """Put every pinned chart that is not yet cached into the cache. Returns what it did."""
    cache = cache_dir or cache_dir_of()
    reference = reference_charts if reference_charts is not None else reference_charts_of()
    done = []
    for pin in pins if pins is not None else pinned_charts():
        try:
            _check_metadata(chart_dir(pin.name, pin.version, cache), pin)
            continue  # already cached
        except (ChartCacheError, OSError):
            pass
        local = reference / f"{pin.name}-{pin.version}" / pin.name
        if local.is_dir():
            _install(local, pin, cache)
            done.append(f"{pin.name} {pin.version}: copied from {local}")
            continue
        with tempfile.TemporaryDirectory(prefix="arc-eks-chart-") as tmp:
            if pin.repository.startswith("oci://"):
                pulled = pull_from_oci(pin, Path(tmp))
            else:
                pulled = pull_from_index(pin, Path(tmp), fetch)
            _install(pulled, pin, cache)
        done.append(f"{pin.name} {pin.version}: pulled from {pin.repository}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m arc_eks.review.charts", description="Fill the local chart cache."
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=Path.cwd(),
        help="the project folder (default: the current folder); the cache is its .cache/charts",
    )
    args = parser.parse_args(argv)
    cache = cache_dir_of(args.project_dir)
    try:
        for line in fill(cache_dir=cache, reference_charts=reference_charts_of(args.project_dir)):
            print(line)
        crd_reference = reference_charts_of(args.project_dir).parent / "crds"
        print(fill_crd_bundle(PROMETHEUS_OPERATOR_CRDS, cache, crd_reference))
    except (ChartCacheError, OSError, helm.HelmError) as error:
        print(f"chart cache {cache}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
