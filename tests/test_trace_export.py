"""The GitHub trace exporter against a loopback HTTP server answering with the shapes of GitHub's
REST docs (workflow runs, workflow jobs, Link pagination, rate-limit headers). No network."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from arc_eks.simulate.github_export import ExportError, GitHubClient, export_jobs
from arc_eks.simulate.trace import read_trace
from arc_eks.simulate.tracegen import main
from tests import loopback

TOKEN = "ghp_exampletokenvalue0000000000000000000"


def _job(job_id: int, run_id: int, **extra: Any) -> dict[str, Any]:
    job = {
        "id": job_id,
        "run_id": run_id,
        "status": "completed",
        "conclusion": "success",
        "created_at": "2026-11-02T10:00:00Z",
        "started_at": "2026-11-02T10:01:30Z",
        "completed_at": "2026-11-02T10:11:30Z",
        "name": "build",
        "labels": ["self-hosted", "linux", "payments"],
        "runner_name": "build-abcde-fghij",
    }
    job.update(extra)
    return job


class Api(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str | None]]] = []
    limited_once: ClassVar[bool] = True

    def log_message(self, *args: Any) -> None:
        del args

    def _send(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        base = f"http://{self.headers['Host']}"
        if url.path == "/repos/acme/ledger/actions/runs":
            assert query["created"] == ["2026-11-02T00:00:00Z..2026-11-03T00:00:00Z"]
            if query.get("page") == ["2"]:
                self._send(
                    200, {"total_count": 2, "workflow_runs": [{"id": 2, "status": "completed"}]}
                )
            else:
                created = quote(query["created"][0])
                nxt = f"{base}/repos/acme/ledger/actions/runs?page=2&per_page=100&created={created}"
                link = f'<{nxt}>; rel="next", <{base}/x?page=2>; rel="last"'
                self._send(
                    200,
                    {"total_count": 2, "workflow_runs": [{"id": 1, "status": "completed"}]},
                    {"Link": link},
                )
        elif url.path == "/repos/acme/ledger/actions/runs/1/jobs":
            if type(self).limited_once:
                type(self).limited_once = False
                self._send(
                    403,
                    {"message": "API rate limit exceeded"},
                    {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000042"},
                )
                return
            self._send(
                200,
                {
                    "total_count": 2,
                    "jobs": [_job(11, 1), _job(12, 1, conclusion="skipped", started_at=None)],
                },
            )
        elif url.path == "/repos/acme/ledger/actions/runs/2/jobs":
            self._send(
                200,
                {
                    "total_count": 1,
                    "jobs": [
                        _job(21, 2, status="in_progress", completed_at=None),
                        _job(
                            22,
                            2,
                            created_at="2026-11-02T12:00:00Z",
                            started_at="2026-11-02T12:00:05Z",
                            completed_at="2026-11-02T12:02:05Z",
                            labels=["self-hosted", "web"],
                        ),
                    ],
                },
            )
        elif url.path == "/orgs/acme/repos":
            self._send(200, [{"full_name": "acme/ledger"}])
        else:
            self._send(404, {"message": "Not Found"})


@pytest.fixture
def api() -> Iterator[str]:
    Api.seen = []
    Api.limited_once = True
    with loopback.serve(Api) as url:
        yield url


def test_export_paginates_waits_for_rate_limit_and_keeps_completed_jobs(api: str) -> None:
    waits: list[float] = []
    client = GitHubClient(api, TOKEN, sleep=waits.append, clock=lambda: 1000000.0)
    since, until = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
    jobs = export_jobs(client, ["acme/ledger"], since, until)
    # Run 2 came from the second page; the skipped and the unfinished jobs are left out.
    assert [(j.duration, j.labels, j.repository) for j in jobs] == [
        (600.0, ("linux", "payments", "self-hosted"), "acme/ledger"),
        (120.0, ("self-hosted", "web"), "acme/ledger"),
    ]
    assert jobs[0].queued_at == datetime(2026, 11, 2, 10, tzinfo=UTC).timestamp()
    assert waits == [43.0]  # until x-ratelimit-reset, plus a second
    assert all(auth == f"Bearer {TOKEN}" for _, auth in Api.seen)
    assert (
        sum(1 for path, _ in Api.seen if path.startswith("/repos/acme/ledger/actions/runs/1/jobs"))
        == 2
    )


def test_http_errors_name_the_path_not_the_token(api: str) -> None:
    client = GitHubClient(api, TOKEN, sleep=lambda _: None)
    with pytest.raises(ExportError, match="/repos/acme/nope/actions/runs: HTTP 404") as info:
        export_jobs(
            client,
            ["acme/nope"],
            datetime(2026, 11, 2, tzinfo=UTC),
            datetime(2026, 11, 3, tzinfo=UTC),
        )
    assert TOKEN not in str(info.value)


def test_cli_writes_a_trace_and_never_prints_the_token(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("arc_eks.simulate.github_export.time.sleep", lambda _: None)
    out = tmp_path / "trace.csv"
    argv = [
        "github",
        "--organization",
        "acme",
        "--since",
        "2026-11-02T00:00:00Z",
        "--until",
        "2026-11-03T00:00:00Z",
        "--api-url",
        api,
        "--token-env",
        "TRACE_TOKEN",
        "--out",
        str(out),
    ]
    monkeypatch.delenv("TRACE_TOKEN", raising=False)
    assert main(argv) == 2
    monkeypatch.setenv("TRACE_TOKEN", TOKEN)
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert TOKEN not in printed.out + printed.err
    assert "2 jobs from 1 repositories" in printed.out
    assert [j.repository for j in read_trace(out)] == ["acme/ledger", "acme/ledger"]
