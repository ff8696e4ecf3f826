"""The proxy as a running service: DNS server, control API and rules-file hot reload together,
in the foreground (the CLI) or in a background thread (tests, benchmarks, notebooks).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aftershock.chaos.control import ControlAPI
from aftershock.chaos.dnsproxy import DnsProxy, FaultLog, ProxyConfig
from aftershock.chaos.rules import Rule, RuleStore, load_rules_file
from aftershock.chaos.scenario_bridge import RehearsalPlan
from aftershock.chaos.zone import Zone
from aftershock.errors import AftershockError

RELOAD_POLL_S = 0.5


@dataclass
class ServiceOptions:
    """Everything a proxy service needs besides the DNS settings."""

    rules_path: Path | None = None
    rules: Iterable[Rule] = ()
    zone: Zone | None = None
    control_host: str = "127.0.0.1"
    control_port: int | None = 5380  # None: no control API
    log: FaultLog = field(default_factory=FaultLog)
    on_ready: Callable[[ProxyService], None] | None = None  # called once the sockets are bound
    rehearsal: RehearsalPlan | None = None  # the scenario being played, if any


class ProxyService:
    """A DNS proxy with its control API; `start_in_thread()` / `stop()`, or `run_forever()`."""

    def __init__(self, config: ProxyConfig, options: ServiceOptions) -> None:
        self.config, self.options = config, options
        file_rules = load_rules_file(options.rules_path) if options.rules_path else []
        self.store = RuleStore(file_rules, options.rules)
        self.proxy = DnsProxy(config, self.store, options.zone, options.log)
        self.control: ControlAPI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._rules_mtime = _mtime(options.rules_path)

    # ---- rules file ---------------------------------------------------------------------------

    def reload_rules(self) -> int:
        """Re-read the rules file now; a bad file raises and the old rules stay."""
        if self.options.rules_path is None:
            raise AftershockError("no rules file to reload", hint="start with --rules FILE")
        self._rules_mtime = _mtime(self.options.rules_path)
        rules = load_rules_file(self.options.rules_path)
        self.store.replace_file_rules(rules)
        self.options.log.write(
            "rules_reloaded", file=str(self.options.rules_path), rules=len(rules)
        )
        return len(rules)

    async def _watch_rules_file(self) -> None:
        while True:
            await asyncio.sleep(RELOAD_POLL_S)
            mtime = _mtime(self.options.rules_path)
            if mtime is None or mtime == self._rules_mtime:
                continue
            try:
                self.reload_rules()
            except AftershockError as exc:
                self.options.log.write("rules_reload_failed", error=str(exc))

    # ---- running ------------------------------------------------------------------------------

    async def serve(self, *, install_signals: bool = False) -> None:
        """Run until `stop()` (or SIGINT/SIGTERM when `install_signals`); SIGHUP reloads."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        await self.proxy.start()
        watcher = None
        try:
            if self.options.control_port is not None:
                self.control = ControlAPI(
                    self.store,
                    self.proxy.stats,
                    self.reload_rules if self.options.rules_path else None,
                    host=self.options.control_host,
                    port=self.options.control_port,
                    health=self.describe,
                )
                self.control.start()
            if self.options.rules_path is not None:
                watcher = asyncio.create_task(self._watch_rules_file())
            if install_signals:
                self._install_signals()
            self.options.log.write("proxy_started", **self.describe())
            if self.options.on_ready is not None:
                self.options.on_ready(self)
            self._ready.set()
            await self._stopped.wait()
        finally:
            if watcher is not None:
                watcher.cancel()
            if self.control is not None:
                self.control.stop()
            await self.proxy.close()

    def describe(self) -> dict[str, Any]:
        """Where it listens and forwards, for the start-up line and /health."""
        upstream = self.config.upstream
        port = self.proxy.port if self.proxy.listening else self.config.listen_port
        return {
            "listen": _endpoint(self.config.listen_host, port),
            "upstream": _endpoint(*upstream) if upstream else None,
            "zone": bool(self.options.zone),
            "rules_file": str(self.options.rules_path) if self.options.rules_path else None,
            "control": self.control.url if self.control else None,
            **({"scenario": self._scenario_clock()} if self.options.rehearsal else {}),
        }

    def _scenario_clock(self) -> dict[str, Any]:
        plan = self.options.rehearsal
        assert plan is not None
        return {
            "speed": plan.speed,
            "started": datetime.fromtimestamp(plan.started_epoch_s).astimezone().isoformat(),
            "now_s": round(plan.scenario_s(), 3),
        }

    def _install_signals(self) -> None:
        assert self._loop is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                self._loop.add_signal_handler(sig, self.stop)
        if self.options.rules_path is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError, AttributeError):
                self._loop.add_signal_handler(signal.SIGHUP, self._reload_logged)

    def _reload_logged(self) -> None:
        try:
            self.reload_rules()
        except AftershockError as exc:
            self.options.log.write("rules_reload_failed", error=str(exc))

    def run_forever(self) -> None:
        """Serve in the foreground until interrupted."""
        asyncio.run(self.serve(install_signals=True))

    def start_in_thread(self, timeout_s: float = 5.0) -> ProxyService:
        """Serve from a daemon thread; returns once the sockets are bound (raises if they cannot be)."""

        def run() -> None:
            try:
                asyncio.run(self.serve())
            except BaseException as exc:  # reported to the starting thread
                self._error = exc
                self._ready.set()

        self._thread = threading.Thread(target=run, name="dns-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError("the DNS proxy did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        """Stop serving (from any thread) and wait for the thread to end."""
        if self._loop is not None and self._stopped is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5.0)

    @property
    def port(self) -> int:
        """The DNS port actually bound."""
        return self.proxy.port

    def __enter__(self) -> ProxyService:
        return self.start_in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _mtime(path: Path | None) -> float | None:
    try:
        return path.stat().st_mtime_ns if path is not None else None
    except OSError:
        return None
