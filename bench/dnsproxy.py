"""Benchmark: the aftershock DNS proxy (rules loaded) against its upstream, dnsmasq, in one run.

    python bench/dnsproxy.py [--seconds 2] [--rounds 3] [--names 200] [--rules 50]

`dnsperf` (Debian) drives: dnsmasq directly; the aftershock proxy forwarding to that dnsmasq
with `--rules` rules loaded (a share of the queries hit an `empty` rule and are answered and
logged by the proxy); and, as the architecture baseline, dnslib's own threaded proxy
(`python -m dnslib.proxy`, one thread per request) forwarding to the same dnsmasq. The runs are
interleaved round by round so a burst of other work hits every server alike; it prints the median
queries per second and p50/p99 latency of each, and the ratios to dnsmasq. Target: the proxy
reaches at least 0.3x dnsmasq's throughput.

Everything runs on 127.0.0.1; dnsperf, dnsmasq and the proxy share the machine's cores (and here
other people's work), so treat the figures as indicative.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from aftershock.chaos.peers import Dnsmasq, free_port, wait_until_answering


def dnsperf(port: int, queries: Path, seconds: float) -> dict[str, float]:
    """Run dnsperf for `seconds` against 127.0.0.1:port; qps, lost share and latency quantiles."""
    out = subprocess.run(
        [
            "dnsperf",
            "-s",
            "127.0.0.1",
            "-p",
            str(port),
            "-d",
            str(queries),
            "-l",
            str(seconds),
            "-q",
            "100",
            "-t",
            "2",
            "-v",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    latencies = []
    qps = lost = 0.0
    for line in out.splitlines():
        if line.startswith("> "):  # "> NOERROR name A 0.000123" (one per query with -v)
            parts = line.split()
            if len(parts) >= 5 and parts[1] != "T":
                latencies.append(float(parts[-1]))
        elif "Queries per second:" in line:
            qps = float(line.split(":")[1])
        elif "Queries lost:" in line:
            lost = float(line.split("(")[1].split("%")[0])
    latencies.sort()
    if not latencies:
        raise RuntimeError(f"dnsperf got no answers from port {port}:\n{out[-1000:]}")
    return {
        "qps": qps,
        "lost_pct": lost,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "answers": len(latencies),
    }


def write_inputs(
    folder: Path, names: int, rules: int, fault_share: float
) -> tuple[Path, Path, list[str]]:
    """The query file (pass-through names plus a share of faulted ones) and the rules file."""
    hosts = [f"host{i}.bench.example" for i in range(names)]
    faulted = [f"fault{i}.bench.example" for i in range(max(1, names // 20))]
    every = max(1, round(1 / fault_share)) if fault_share > 0 else 0
    lines = []
    for i, host in enumerate(hosts * 5):
        lines.append(f"{host} A")
        if every and i % every == 0:
            lines.append(f"{faulted[i % len(faulted)]} A")
    queries = folder / "queries.txt"
    queries.write_text("\n".join(lines) + "\n")
    rule_lines = ["rules:"]
    rule_lines += [
        f"  - {{match: {name}, type: A, action: empty, negative_ttl: 30}}" for name in faulted
    ]
    for i in range(max(0, rules - len(faulted) - 2)):  # rules that match nothing queried
        rule_lines.append(f"  - {{match: other{i}.bench.example, action: nxdomain}}")
    rule_lines.append('  - {match: "*.flaky.example", action: servfail, probability: 0.3}')
    rule_lines.append('  - {match: "~^api[0-9]+\\\\.example$", action: nxdomain}')
    rules_file = folder / "rules.yaml"
    rules_file.write_text("\n".join(rule_lines) + "\n")
    return queries, rules_file, hosts


def start(command: list[str], port: int, probe: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_answering(port, probe)
    except RuntimeError:
        process.kill()
        raise RuntimeError(
            f"{command[:4]} did not start: {process.stderr.read().decode()[-800:]}"
        ) from None
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one dnsperf run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per server")
    parser.add_argument("--names", type=int, default=200, help="distinct names queried")
    parser.add_argument("--rules", type=int, default=50, help="rules loaded in the proxy")
    parser.add_argument("--fault-share", type=float, default=0.05, help="share of queries faulted")
    parser.add_argument("--no-dnslib-baseline", action="store_true")
    args = parser.parse_args()
    missing = [
        tool
        for tool in ("dnsperf", "dnsmasq")
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists()
    ]
    if missing:
        print(f"needs Debian's {' and '.join(missing)} (apt-get install {' '.join(missing)})")
        return 2
    folder = Path(tempfile.mkdtemp(prefix="aftershock-bench-dns-"))
    queries, rules_file, hosts = write_inputs(folder, args.names, args.rules, args.fault_share)
    proxy_name = f"aftershock dns-proxy ({args.rules} rules)"
    runs: dict[str, list[dict[str, float]]] = {}
    processes: list[subprocess.Popen[bytes]] = []
    with Dnsmasq(
        {h: ["127.0.0.50"] for h in hosts}, local_domains=("bench.example",), local_ttl_s=60
    ) as upstream:
        try:
            ports = {"dnsmasq (upstream, direct)": upstream.port}
            ports[proxy_name] = free_port()
            processes.append(
                start(
                    proxy_command(ports[proxy_name], upstream.port, rules_file, folder),
                    ports[proxy_name],
                    hosts[0],
                )
            )
            if not args.no_dnslib_baseline:
                ports["dnslib threaded proxy (no rules)"] = free_port()
                processes.append(
                    start(
                        dnslib_command(ports["dnslib threaded proxy (no rules)"], upstream.port),
                        ports["dnslib threaded proxy (no rules)"],
                        hosts[0],
                    )
                )
            # Interleaved rounds, so a burst of other work on the machine hits every server alike.
            for _ in range(args.rounds):
                for name, port in ports.items():
                    runs.setdefault(name, []).append(dnsperf(port, queries, args.seconds))
        finally:
            for process in processes:
                stop(process)
    log_lines = (folder / "faults.log").read_text().splitlines()
    faults_logged = sum(1 for line in log_lines if '"event":"dns_fault"' in line)
    shutil.rmtree(folder, ignore_errors=True)

    results = {name: _median_run(r) for name, r in runs.items()}
    reference = results["dnsmasq (upstream, direct)"]["qps"]
    print(
        f"dnsperf: {args.rounds} interleaved rounds of {args.seconds:g}s per server (medians), "
        f"{args.names} names, 100 queries outstanding, 127.0.0.1"
    )
    print(
        f"{'server':36} {'qps':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'lost %':>6}  qps per round"
    )
    for name, r in results.items():
        rounds = " ".join(f"{run['qps']:.0f}" for run in runs[name])
        print(
            f"{name:36} {r['qps']:8.0f} {r['qps'] / reference:6.2f} {r['p50_ms']:7.2f} "
            f"{r['p99_ms']:7.2f} {r['lost_pct']:6.2f}  {rounds}"
        )
    print(f"faults injected and logged by the proxy: {faults_logged}")
    ratio = results[proxy_name]["qps"] / reference
    verdict = "met" if ratio >= 0.3 else "NOT met"
    print(f"proxy / dnsmasq throughput: {ratio:.2f}x (target >= 0.30x): {verdict}")
    print("(indicative: dnsperf, dnsmasq and the proxy share this machine's cores)")
    return 0


def proxy_command(port: int, upstream_port: int, rules_file: Path, folder: Path) -> list[str]:
    """The proxy as users run it; the rate limit is on but above the offered load."""
    return [
        sys.executable,
        "-c",
        "from aftershock.cli import main; main()",
        "dns-proxy",
        "--listen",
        f"127.0.0.1:{port}",
        "--upstream",
        f"127.0.0.1:{upstream_port}",
        "--rules",
        str(rules_file),
        "--control",
        "off",
        "--log",
        str(folder / "faults.log"),
        "--rate-limit",
        "1000000",
    ]


def dnslib_command(port: int, upstream_port: int) -> list[str]:
    """dnslib's own proxy: socketserver, one thread per request."""
    return [
        sys.executable,
        "-m",
        "dnslib.proxy",
        "--port",
        str(port),
        "--address",
        "127.0.0.1",
        "--upstream",
        f"127.0.0.1:{upstream_port}",
        "--log=-request,-reply,-truncated,-error",
    ]


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


if __name__ == "__main__":
    sys.exit(main())
