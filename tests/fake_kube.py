"""A fake Kubernetes API server on 127.0.0.1 for the verify tests: real HTTP, real client.

Serves GET only: objects put under their API paths; list paths filter by `labelSelector`
(equality terms) and `fieldSelector=status.phase=...`, as the API server does; anything else is
a 404 Status. Every request is recorded (path and query), so a test can check what was asked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests import loopback


class FakeKube:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        """Single objects by path (e.g. /apis/.../customresourcedefinitions/x)."""
        self.lists: dict[str, list[dict[str, Any]]] = {}
        """List paths -> items."""
        self.forbidden: set[str] = set()
        self.token = "fake-token"
        """Requests without `Authorization: Bearer <token>` get 401, as from the API server."""
        self.requests: list[str] = []

    def add(self, list_path: str, item: dict[str, Any]) -> None:
        self.lists.setdefault(list_path, []).append(item)
        self.objects[f"{list_path}/{item['metadata']['name']}"] = item

    def kubeconfig(self, url: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": url}}],
            "users": [{"name": "fake", "user": {"token": self.token}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "current-context": "fake",
        }


def _matches(item: dict[str, Any], query: dict[str, list[str]]) -> bool:
    labels = item.get("metadata", {}).get("labels") or {}
    for term in (query.get("labelSelector") or [""])[0].split(","):
        if term:
            key, _, value = term.partition("=")
            if labels.get(key) != value:
                return False
    for term in (query.get("fieldSelector") or [""])[0].split(","):
        if (
            term.startswith("status.phase=")
            and (item.get("status") or {}).get("phase") != term.split("=", 1)[1]
        ):
            return False
    return True


@contextmanager
def serve(fake: FakeKube) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            fake.requests.append(self.path)
            query = parse_qs(url.query)
            if self.headers.get("Authorization") != f"Bearer {fake.token}":
                self._send(401, {"kind": "Status", "code": 401, "reason": "Unauthorized"})
            elif url.path in fake.forbidden:
                self._send(403, {"kind": "Status", "code": 403, "reason": "Forbidden"})
            elif url.path in fake.lists:
                items = [i for i in fake.lists[url.path] if _matches(i, query)]
                self._send(
                    200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}
                )
            elif url.path in fake.objects:
                self._send(200, fake.objects[url.path])
            else:
                self._send(404, {"kind": "Status", "code": 404, "reason": "NotFound"})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    with loopback.serve(Handler) as url:
        yield url
