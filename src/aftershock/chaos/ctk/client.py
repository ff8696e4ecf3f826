"""A small HTTP JSON client for the proxy's control API (stdlib only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

DEFAULT_CONTROL_URL = "http://127.0.0.1:5380"
DEFAULT_DNS_SERVER = "127.0.0.1:5353"
CONTROL_KEY = "aftershock_dns_control"
DNS_SERVER_KEY = "aftershock_dns_server"


class ControlError(Exception):
    """The control API could not be reached or refused the request."""


class ControlClient:
    """Calls the control API at `base_url`."""

    def __init__(self, base_url: str = DEFAULT_CONTROL_URL, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    @classmethod
    def from_configuration(cls, configuration: Mapping[str, Any] | None) -> ControlClient:
        """The client for an experiment's configuration (`aftershock_dns_control`)."""
        url = (configuration or {}).get(CONTROL_KEY) or DEFAULT_CONTROL_URL
        return cls(str(url))

    def get(self, path: str) -> Any:
        """GET a path; the decoded JSON."""
        return self._call("GET", path)

    def post(self, path: str, body: Any) -> Any:
        """POST JSON; the decoded JSON."""
        return self._call("POST", path, body)

    def delete(self, path: str) -> Any:
        """DELETE a path; the decoded JSON (None for 204)."""
        return self._call("DELETE", path)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            try:
                payload = json.loads(detail)
                detail = payload.get("error", detail) + (
                    f" (hint: {payload['hint']})" if payload.get("hint") else ""
                )
            except (json.JSONDecodeError, AttributeError):
                pass
            raise ControlError(f"{method} {path}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ControlError(
                f"cannot reach the DNS proxy's control API at {self.base_url}: {exc}; "
                "is `aftershock dns-proxy` running?"
            ) from None
        return json.loads(raw) if raw else None
