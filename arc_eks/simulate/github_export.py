"""Export a job trace from GitHub's REST API (`make trace SOURCE=github ...`).

Lists the workflow runs created in a time window for each repository (`GET /repos/{owner}/{repo}/
actions/runs?created=<from>..<to>`), then each run's jobs (`GET .../actions/runs/{id}/jobs`), and
writes one row per completed job that ran: queued at the job's `created_at`, duration
`completed_at - started_at`, its `labels`. Pages follow the `Link: <...>; rel="next"` header.
Rate limits: a 403/429 with `x-ratelimit-remaining: 0` waits until `x-ratelimit-reset`, one with
`retry-after` waits that long (secondary limits), then retries. The token comes from an
environment variable and is only ever sent in the Authorization header, never printed.
Ref: https://docs.github.com/en/rest/actions/workflow-runs, .../workflow-jobs,
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from arc_eks.simulate.trace import Job

API_VERSION = "2022-11-28"  # X-GitHub-Api-Version the endpoints above document
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
MAX_RETRIES = 5
REQUEST_TIMEOUT_SECONDS = 30


class ExportError(RuntimeError):
    """An answer the exporter cannot use (the message never contains the token)."""


@dataclass
class GitHubClient:
    base_url: str
    token: str = field(repr=False)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    requests: int = 0

    def _get(self, url: str) -> tuple[Any, str | None]:
        for _attempt in range(MAX_RETRIES + 1):
            request = urllib.request.Request(
                url,
                headers={
                    "Accept": "application/vnd.github+json",
                    "Authorization": f"Bearer {self.token}",
                    "X-GitHub-Api-Version": API_VERSION,
                    "User-Agent": "arc-eks-trace-export",
                },
            )
            self.requests += 1
            try:
                with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
                    body = json.loads(response.read().decode("utf-8"))
                    match = _NEXT.search(response.headers.get("Link") or "")
                    return body, match.group(1) if match else None
            except urllib.error.HTTPError as error:
                wait = self._rate_limit_wait(error)
                if wait is None:
                    raise ExportError(
                        f"GET {_path(url)}: HTTP {error.code} {error.reason}"
                    ) from None
                self.sleep(wait)
            except urllib.error.URLError as error:
                raise ExportError(f"GET {_path(url)}: {error.reason}") from None
        raise ExportError(f"GET {_path(url)}: still rate limited after {MAX_RETRIES} waits")

    def _rate_limit_wait(self, error: urllib.error.HTTPError) -> float | None:
        if error.code not in (403, 429):
            return None
        headers = error.headers
        retry_after = headers.get("retry-after")
        if retry_after is not None and retry_after.isdigit():
            return float(retry_after)
        if headers.get("x-ratelimit-remaining") == "0":
            reset = headers.get("x-ratelimit-reset")
            if reset is not None and reset.isdigit():
                return max(1.0, float(reset) - self.clock() + 1)
            return 60.0
        return None

    def pages(self, path: str, key: str | None, params: dict[str, str]) -> Iterator[Any]:
        url: str | None = f"{self.base_url.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
        while url is not None:
            body, url = self._get(url)
            items = body.get(key, []) if key is not None else body
            if not isinstance(items, list):
                raise ExportError(f"GET {path}: expected a list under {key!r}")
            yield from items


def _path(url: str) -> str:
    return urllib.parse.urlsplit(url).path


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def organization_repositories(client: GitHubClient, org: str) -> list[str]:
    """`GET /orgs/{org}/repos`: every repository's full name."""
    return [
        str(r["full_name"])
        for r in client.pages(f"/orgs/{org}/repos", None, {"per_page": "100", "type": "all"})
    ]


def export_jobs(
    client: GitHubClient, repositories: Sequence[str], since: datetime, until: datetime
) -> list[Job]:
    jobs: list[Job] = []
    window = f"{_utc(since)}..{_utc(until)}"
    for full_name in repositories:
        owner, _, repo = full_name.partition("/")
        runs = client.pages(
            f"/repos/{owner}/{repo}/actions/runs",
            "workflow_runs",
            {"created": window, "per_page": "100"},
        )
        for run in runs:
            for job in client.pages(
                f"/repos/{owner}/{repo}/actions/runs/{int(run['id'])}/jobs",
                "jobs",
                {"per_page": "100", "filter": "all"},
            ):
                row = _job_row(job, full_name)
                if row is not None:
                    jobs.append(row)
    return sorted(jobs, key=lambda j: (j.queued_at, j.repository))


def _job_row(job: dict[str, Any], repository: str) -> Job | None:
    started, completed = job.get("started_at"), job.get("completed_at")
    created = job.get("created_at") or started
    labels = tuple(sorted({str(x) for x in job.get("labels") or []}))
    if job.get("status") != "completed" or not started or not completed or not created:
        return None
    if not labels or job.get("conclusion") == "skipped":
        return None
    duration = max(0.0, (_stamp(completed) - _stamp(started)).total_seconds())
    return Job(_stamp(created).timestamp(), duration, labels, repository)
