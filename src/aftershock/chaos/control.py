"""The proxy's control API: a small HTTP JSON server on loopback.

    GET    /health            liveness, listen address, rule count
    GET    /rules             every rule with its counters (hits, matched)
    POST   /rules             add one rule object, a list, or {"rules": [...]}  -> 201
    DELETE /rules/{id}        remove one rule                                   -> 204 / 404
    DELETE /rules[?all=1]     remove the API's rules (all=1: the file's too)    -> 200
    GET    /stats             proxy counters and gauges
    POST   /reload            re-read the rules file now

Rule objects are the rules file's (`aftershock.chaos.rules`). Writes need
`Content-Type: application/json` and a loopback `Host` header, which a web page cannot forge
without a CORS preflight (that this server never grants) — so a browser tab cannot reconfigure it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aftershock.chaos.rules import RuleError, RuleStore, parse_rule
from aftershock.errors import AftershockError

MAX_BODY_BYTES = 1024 * 1024
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


class ControlAPI:
    """Serves the control API for a rule store and a stats source, in a daemon thread."""

    def __init__(
        self,
        store: RuleStore,
        stats: Callable[[], dict[str, Any]],
        reload: Callable[[], int] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 5380,
        health: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.store, self.stats, self.reload = store, stats, reload
        self.health = health or dict
        api = self

        class Handler(_Handler):
            control = api

        server_class = _ThreadingHTTPServer6 if ":" in host else ThreadingHTTPServer
        self.server = server_class((host, port), Handler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        """Base URL of the API."""
        host = self.server.server_address[0]
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="dns-control", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()


class _ThreadingHTTPServer6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    control: ControlAPI
    server_version = "aftershock-dns-proxy"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are not faults; the fault log stays one line per fault

    # ---- routing -------------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/health":
            rules = len(self.control.store.all())
            self._send(200, {"status": "ok", "rules": rules, **self.control.health()})
        elif path == "/rules":
            self._send(200, {"rules": [r.to_dict() for r in self.control.store.all()]})
        elif path.startswith("/rules/"):
            rule = next((r for r in self.control.store.all() if r.id == path[7:]), None)
            if rule is None:
                self._send(404, {"error": f"no rule '{path[7:]}'"})
            else:
                self._send(200, rule.to_dict())
        elif path == "/stats":
            self._send(200, self.control.stats())
        else:
            self._send(404, {"error": "not found", "hint": "GET /health, /rules, /stats"})

    def do_POST(self) -> None:
        if not self._write_allowed():
            return
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/rules":
            self._add_rules()
        elif path == "/reload":
            if self.control.reload is None:
                self._send(
                    409, {"error": "no rules file to reload", "hint": "start with --rules FILE"}
                )
                return
            try:
                count = self.control.reload()
            except AftershockError as exc:
                self._send(400, exc.to_dict())
                return
            self._send(200, {"reloaded": count})
        else:
            self._send(404, {"error": "not found", "hint": "POST /rules or /reload"})

    def do_DELETE(self) -> None:
        if not self._write_allowed(needs_body=False):
            return
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/")
        if path == "/rules":
            everything = parse_qs(parts.query).get("all", ["0"])[0] in ("1", "true", "yes")
            removed = self.control.store.clear(include_file_rules=everything)
            self._send(200, {"removed": removed})
        elif path.startswith("/rules/"):
            if self.control.store.remove(path[7:]):
                self._send(204, None)
            else:
                self._send(404, {"error": f"no rule '{path[7:]}'"})
        else:
            self._send(404, {"error": "not found"})

    # ---- helpers -------------------------------------------------------------------------------

    def _add_rules(self) -> None:
        body = self._read_json()
        if body is None:
            return
        items = body.get("rules") if isinstance(body, dict) and "rules" in body else body
        items = items if isinstance(items, list) else [items]
        try:
            rules = [parse_rule(raw, where=f"rule {i + 1}") for i, raw in enumerate(items)]
            added = self.control.store.add(rules)
        except RuleError as exc:
            self._send(400, exc.to_dict())
            return
        self._send(201, {"rules": [r.to_dict() for r in added]})

    def _write_allowed(self, needs_body: bool = True) -> bool:
        host = _host_name(self.headers.get("Host") or "")
        if host not in LOOPBACK_HOSTS:
            self._send(403, {"error": f"Host '{host}' is not loopback", "hint": "use 127.0.0.1"})
            return False
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if needs_body and ctype != "application/json":
            self._send(415, {"error": "send Content-Type: application/json"})
            return False
        return True

    def _read_json(self) -> Any:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._send(413, {"error": f"body must be 0..{MAX_BODY_BYTES} bytes"})
            return None
        raw = self.rfile.read(length)
        try:
            return json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self._send(400, {"error": f"not JSON: {exc}"})
            return None

    def _send(self, status: int, payload: Any) -> None:
        body = b"" if payload is None else json.dumps(payload, indent=1).encode() + b"\n"
        self.send_response(status, HTTPStatus(status).phrase)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(body)


def _host_name(header: str) -> str:
    """The host part of a Host header (`[::1]:5380` -> `[::1]`, `127.0.0.1:5380` -> `127.0.0.1`)."""
    if header.startswith("["):
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header
