"""Real DNS servers from Debian (dnsmasq, unbound) run on loopback ports, for rehearsals, tests
and benchmarks: an upstream that answers fixed records, or a caching resolver in front of the
proxy (the piece that makes an emptied record outlive its fix).

Every process is started on 127.0.0.1 with a generated config that forwards nowhere else, and is
stopped by `stop()` / the context manager.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free on both UDP and TCP right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port found")


def wait_until_answering(
    port: int, name: str, timeout_s: float = 10.0, host: str = "127.0.0.1"
) -> None:
    """Block until a DNS server on `port` answers (any rcode) a query for `name`."""
    deadline = time.monotonic() + timeout_s
    query = dns.message.make_query(name, "A")
    while time.monotonic() < deadline:
        try:
            dns.query.udp(query, host, port=port, timeout=0.3)
            return
        except (dns.exception.Timeout, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered DNS on {host}:{port} within {timeout_s}s")


class _Daemon:
    """A foreground server process with its own temporary folder."""

    binary = ""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix=f"aftershock-{self.binary}-"))
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def available(cls) -> bool:
        """Whether the Debian binary is installed."""
        return shutil.which(cls.binary) is not None or Path(f"/usr/sbin/{cls.binary}").exists()

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, probe_name: str = "probe.aftershock.invalid") -> _Daemon:
        """Start the process and wait until it answers DNS."""
        log = open(self.folder / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        self._log = log
        try:
            wait_until_answering(self.port, probe_name)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"{self.binary} did not start: {self.log_text()[-800:]}") from None
        return self

    def log_text(self) -> str:
        """What the process printed."""
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Terminate the process (kill it after 3 s) and remove its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(3)
        if getattr(self, "_log", None) is not None:
            self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> _Daemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Dnsmasq(_Daemon):
    """dnsmasq on loopback: answers `records` (name -> addresses) itself; optionally forwards the
    domains in `forward` to another loopback server (as a caching resolver)."""

    binary = "dnsmasq"

    def __init__(
        self,
        records: dict[str, list[str]] | None = None,
        *,
        local_domains: tuple[str, ...] = (),
        forward: dict[str, int] | None = None,
        cache_size: int = 1000,
        local_ttl_s: int = 0,
    ) -> None:
        super().__init__()
        self.records = records or {}
        self.local_domains = local_domains
        self.forward = forward or {}
        self.cache_size = cache_size
        self.local_ttl_s = local_ttl_s

    def command(self) -> list[str]:
        args = [
            shutil.which("dnsmasq") or "/usr/sbin/dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--pid-file=",
            "--user=root" if _is_root() else "--user=",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--interface=lo",
            f"--port={self.port}",
            f"--cache-size={self.cache_size}",
            f"--local-ttl={self.local_ttl_s}",
            "--local=/invalid/",
            "--log-facility=-",
        ]
        for name, addresses in self.records.items():
            args.append(f"--host-record={name},{','.join(addresses)}")
        args += [f"--local=/{d}/" for d in self.local_domains]
        args += [f"--server=/{d}/127.0.0.1#{port}" for d, port in self.forward.items()]
        return args


class Unbound(_Daemon):
    """unbound on loopback as a caching resolver that forwards everything to one loopback port."""

    binary = "unbound"

    def __init__(self, forward_port: int, *, extra: str = "") -> None:
        super().__init__()
        self.forward_port = forward_port
        self.extra = extra

    def command(self) -> list[str]:
        config = self.folder / "unbound.conf"
        config.write_text(
            f"""server:
  interface: 127.0.0.1
  port: {self.port}
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "{self.folder}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "iterator"
  qname-minimisation: no
  prefetch: no
  serve-expired: no
  cache-min-ttl: 0
  local-zone: "example." nodefault
  local-zone: "invalid." nodefault
{self.extra}
remote-control:
  control-enable: no
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@{self.forward_port}
"""
        )
        return [shutil.which("unbound") or "/usr/sbin/unbound", "-d", "-c", str(config)]


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
