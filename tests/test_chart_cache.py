"""The chart cache (`make charts`): filled from a local chart folder or pulled once from a chart
repository with the index's digest checked; a missing chart is an error naming `make charts`.

The pull tests serve a chart repository they build themselves on a loopback HTTP server."""

from __future__ import annotations

import hashlib
import http.server
from collections.abc import Iterator
from pathlib import Path

import helm_python as helm
import pytest
import yaml

from arc_eks import versions
from arc_eks.review import charts
from arc_eks.versions import ChartPin
from tests import loopback


def _chart(folder: Path, name: str = "demo", version: str = "1.2.3") -> Path:
    chart = folder / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version})
    )
    (chart / "values.yaml").write_text("replicas: 1\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
    )
    return chart


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A chart repository (index.yaml + archive) served on 127.0.0.1; yields its URL and folder."""
    served = tmp_path / "served"
    served.mkdir()
    archive = Path(helm.package(_chart(tmp_path / "src"), destination=served))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    index = {
        "apiVersion": "v1",
        "entries": {
            "demo": [{"name": "demo", "version": "1.2.3", "digest": digest, "urls": [archive.name]}]
        },
    }
    (served / "index.yaml").write_text(yaml.safe_dump(index))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(served), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *_: object) -> None:
            pass

    with loopback.serve(Quiet) as url:
        yield f"{url}/", served


def _loopback_only(url: str, timeout: float) -> bytes:
    assert url.startswith("http://127.0.0.1:"), url  # the tests never reach the network
    return charts._urlopen(url, min(timeout, 10.0))


def test_filled_from_the_local_chart_folder_once(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    _chart(reference / "demo-1.2.3")
    pin = ChartPin("demo", "1.2.3", "https://charts.invalid")
    cache = tmp_path / "cache"
    assert charts.fill([pin], cache_dir=cache, reference_charts=reference) == [
        f"demo 1.2.3: copied from {reference / 'demo-1.2.3' / 'demo'}"
    ]
    assert (charts.chart_dir("demo", "1.2.3", cache) / "templates" / "cm.yaml").is_file()
    assert charts.fill([pin], cache_dir=cache, reference_charts=reference) == []  # cached


def test_a_local_folder_of_another_version_is_refused(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    _chart(reference / "demo-1.2.3", version="1.2.4")
    with pytest.raises(charts.ChartCacheError, match=r"expected the pin demo 1\.2\.3"):
        charts.fill(
            [ChartPin("demo", "1.2.3", "https://charts.invalid")],
            cache_dir=tmp_path / "cache",
            reference_charts=reference,
        )
    assert not (tmp_path / "cache" / "demo-1.2.3").exists()


def test_pulled_from_the_repository_with_its_digest_checked(
    tmp_path: Path, repository: tuple[str, Path]
) -> None:
    url, _ = repository
    cache = tmp_path / "cache"
    done = charts.fill(
        [ChartPin("demo", "1.2.3", url)],
        cache_dir=cache,
        reference_charts=tmp_path / "absent",
        fetch=_loopback_only,
    )
    assert done == [f"demo 1.2.3: pulled from {url}"]
    chart = charts.load_chart("demo", "1.2.3", cache)
    assert chart.version == "1.2.3"


def test_an_archive_that_does_not_match_the_index_digest_is_refused(
    tmp_path: Path, repository: tuple[str, Path]
) -> None:
    url, served = repository
    (archive,) = served.glob("*.tgz")
    archive.write_bytes(archive.read_bytes() + b"\0")  # tampered after indexing
    with pytest.raises(charts.ChartCacheError, match="does not match the digest"):
        charts.fill(
            [ChartPin("demo", "1.2.3", url)],
            cache_dir=tmp_path / "cache",
            reference_charts=tmp_path / "absent",
            fetch=_loopback_only,
        )
    with pytest.raises(charts.ChartCacheError, match="make charts"):
        charts.chart_dir("demo", "1.2.3", tmp_path / "cache")


def test_a_version_the_index_does_not_list_is_an_error(
    tmp_path: Path, repository: tuple[str, Path]
) -> None:
    url, _ = repository
    with pytest.raises(charts.ChartCacheError, match=r"has no demo 9\.9\.9"):
        charts.fill(
            [ChartPin("demo", "9.9.9", url)],
            cache_dir=tmp_path / "cache",
            reference_charts=tmp_path / "absent",
            fetch=_loopback_only,
        )


def test_every_pinned_chart_is_cached_at_its_pin() -> None:
    """`make test` fills the cache first; each folder holds exactly the pinned version."""
    pins = versions.pinned_charts()
    assert {p.name for p in pins} >= {
        versions.ARC_CHART,
        versions.CERT_MANAGER_CHART,
        versions.CLUSTER_AUTOSCALER_CHART,
        versions.SCALE_SET_CONTROLLER_CHART,
        versions.SCALE_SET_CHART,
    }
    for pin in pins:
        chart = charts.load_chart(pin.name, pin.version)
        assert (chart.name, chart.version) == (pin.name, pin.version)


# --- pinned CRD bundles (the Prometheus Operator CRDs) -----------------------------------------

BUNDLE = versions.CrdBundlePin(
    name="example-crds",
    version="v1.0.0",
    base_url="https://example.invalid/crds/",
    files={
        "a.yaml": hashlib.sha256(b"kind: A\n").hexdigest(),
        "b.yaml": hashlib.sha256(b"kind: B\n").hexdigest(),
    },
)
BUNDLE_FILES = {"a.yaml": b"kind: A\n", "b.yaml": b"kind: B\n"}


def _bundle_reference(tmp_path: Path, files: dict[str, bytes]) -> Path:
    folder = tmp_path / "reference" / f"{BUNDLE.name}-{BUNDLE.version}"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder.parent


def test_crd_bundle_copied_from_the_reference_folder_with_digests_checked(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    line = charts.fill_crd_bundle(BUNDLE, cache, _bundle_reference(tmp_path, BUNDLE_FILES))
    assert "copied from" in line
    assert charts.crd_bundle_texts(BUNDLE, cache) == ["kind: A\n", "kind: B\n"]
    assert charts.fill_crd_bundle(BUNDLE, cache, tmp_path / "nowhere").endswith(": cached")


def test_crd_bundle_with_a_wrong_file_is_not_cached(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    tampered = {**BUNDLE_FILES, "b.yaml": b"kind: Evil\n"}
    line = charts.fill_crd_bundle(BUNDLE, cache, _bundle_reference(tmp_path, tampered))
    assert "NOT cached" in line and "b.yaml" in line
    assert charts.crd_bundle_texts(BUNDLE, cache) == []
    assert not cache.exists() or not list(cache.iterdir())  # nothing half-installed


def test_crd_bundle_downloaded_when_no_reference_folder(tmp_path: Path) -> None:
    fetched: list[str] = []

    def fetch(url: str, timeout: float) -> bytes:
        fetched.append(url)
        return BUNDLE_FILES[url.rpartition("/")[2]]

    line = charts.fill_crd_bundle(BUNDLE, tmp_path / "cache", tmp_path / "nowhere", fetch)
    assert line.endswith(": pulled")
    assert fetched == [BUNDLE.base_url + "a.yaml", BUNDLE.base_url + "b.yaml"]


def test_crd_bundle_unreachable_is_reported_not_raised(tmp_path: Path) -> None:
    def fetch(url: str, timeout: float) -> bytes:
        raise OSError("no route to host")

    line = charts.fill_crd_bundle(BUNDLE, tmp_path / "cache", tmp_path / "nowhere", fetch)
    assert "NOT cached (no route to host)" in line


def test_crd_bundle_changed_in_the_cache_is_an_error(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    charts.fill_crd_bundle(BUNDLE, cache, _bundle_reference(tmp_path, BUNDLE_FILES))
    (charts.crd_bundle_dir(BUNDLE, cache) / "a.yaml").write_bytes(b"kind: Changed\n")
    with pytest.raises(charts.ChartCacheError, match="sha256 pinned"):
        charts.crd_bundle_texts(BUNDLE, cache)
