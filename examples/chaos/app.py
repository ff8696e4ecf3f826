"""A small shop API for rehearsing DNS faults: GET /orders resolves the database's DNS name
through a given DNS server (the aftershock proxy) and reads from the address it gets.

    python examples/chaos/app.py --port 8080 --dns 127.0.0.1:5353 \
        --record db.shop.example --backend 127.0.0.20:8081 [--serve-stale 300]

It also runs the "database" (a tiny HTTP server on --backend). With --serve-stale it keeps using
the last good address for that many seconds when DNS fails (like RFC 8767 serve-stale), which is
the change that makes the sample experiment pass. Loopback only; stdlib plus dnspython.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dns.exception
import dns.resolver


class Database(BaseHTTPRequestHandler):
    """The backend: answers /orders with a fixed list."""

    def do_GET(self) -> None:
        body = json.dumps({"orders": [{"id": 1, "total": 42.0}, {"id": 2, "total": 7.5}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Shop:
    """Resolves the database's name on every request, optionally serving a stale address."""

    def __init__(
        self, dns_server: str, record: str, backend_port: int, serve_stale_s: float
    ) -> None:
        host, _, port = dns_server.rpartition(":")
        self.resolver = dns.resolver.Resolver(configure=False)
        self.resolver.nameservers = [host]
        self.resolver.port = int(port)
        self.resolver.lifetime = 1.0
        self.record, self.backend_port, self.serve_stale_s = record, backend_port, serve_stale_s
        self.last_good: tuple[str, float] | None = None
        self.lock = threading.Lock()

    def database_address(self) -> tuple[str | None, str]:
        """(address, how it was found) or (None, why not)."""
        try:
            answer = self.resolver.resolve(self.record, "A")
            address = str(answer[0])
            with self.lock:
                self.last_good = (address, time.monotonic())
            return address, "dns"
        except dns.resolver.NoAnswer:
            why = "empty answer (NOERROR, no records)"
        except dns.resolver.NXDOMAIN:
            why = "NXDOMAIN"
        except dns.resolver.NoNameservers:
            why = "SERVFAIL/REFUSED"
        except dns.exception.Timeout:
            why = "DNS timeout"
        with self.lock:
            stale = self.last_good
        if stale is not None and time.monotonic() - stale[1] <= self.serve_stale_s:
            return stale[0], f"stale ({why})"
        return None, why

    def orders(self) -> tuple[int, dict]:
        address, how = self.database_address()
        if address is None:
            return 503, {"error": f"{self.record}: {how}"}
        try:
            with urllib.request.urlopen(
                f"http://{address}:{self.backend_port}/orders", timeout=1
            ) as r:
                data = json.loads(r.read())
        except OSError as exc:
            return 502, {"error": f"database at {address} unreachable: {exc}", "resolved": how}
        return 200, {**data, "database": address, "resolved": how}


def serve(args: argparse.Namespace) -> None:
    backend_host, _, backend_port = args.backend.rpartition(":")
    database = ThreadingHTTPServer((backend_host, int(backend_port)), Database)
    threading.Thread(target=database.serve_forever, daemon=True).start()
    shop = Shop(args.dns, args.record, int(backend_port), args.serve_stale)

    class Api(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                status, payload = 200, {"status": "ok"}
            elif self.path == "/orders":
                status, payload = shop.orders()
            else:
                status, payload = 404, {"error": "not found"}
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    api = ThreadingHTTPServer(("127.0.0.1", args.port), Api)
    print(
        f"shop on http://127.0.0.1:{args.port}/orders, database {args.record} via {args.dns}",
        flush=True,
    )
    try:
        api.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        api.server_close()
        database.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--dns", default="127.0.0.1:5353", help="DNS server address:port")
    parser.add_argument("--record", default="db.shop.example")
    parser.add_argument("--backend", default="127.0.0.20:8081", help="where the database listens")
    parser.add_argument(
        "--serve-stale", type=float, default=0.0, help="seconds to keep a stale address"
    )
    serve(parser.parse_args())


if __name__ == "__main__":
    main()
