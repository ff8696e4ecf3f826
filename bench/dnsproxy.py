"""Benchmark: the aftershock DNS proxy (rules loaded) against its upstream, dnsmasq, in one run.

    python bench/dnsproxy.py [--seconds 5] [--names 200] [--rules 50] [--fault-share 0.05]

`dnsperf` (Debian) drives, in turn: dnsmasq directly; the aftershock proxy forwarding to that
dnsmasq with `--rules` rules loaded (a share of the queries hit an `empty` rule and are answered
and logged by the proxy); and, as the architecture baseline, dnslib's own threaded proxy
(`python -m dnslib.proxy`, one thread per request) forwarding to the same dnsmasq. It prints
queries per second and p50/p99 latency of each, and the ratios to dnsmasq. Target: the proxy
reaches at least 0.3x dnsmasq's throughput.

Everything runs on 127.0.0.1; the figures depend on what else the machine's cores are doing
(dnsperf, dnsmasq and the proxy share them), so treat them as indicative.
"""

from __future__ import annotations

import argparse
import shutil
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
    parser.add_argument("--seconds", type=float, default=5.0, help="dnsperf run length per server")
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
    results: dict[str, dict[str, float]] = {}
    with Dnsmasq(
        {h: ["127.0.0.50"] for h in hosts}, local_domains=("bench.example",), local_ttl_s=60
    ) as upstream:
        results["dnsmasq (upstream, direct)"] = dnsperf(upstream.port, queries, args.seconds)

        port = free_port()
        proxy = start(
            [
                sys.executable,
                "-c",
                "from aftershock.cli import main; main()",
                "dns-proxy",
                "--listen",
                f"127.0.0.1:{port}",
                "--upstream",
                f"127.0.0.1:{upstream.port}",
                "--rules",
                str(rules_file),
                "--control",
                "off",
                "--log",
                str(folder / "faults.log"),
                "--rate-limit",
                "1000000",
            ],
            port,
            hosts[0],
        )
        try:
            results[f"aftershock dns-proxy ({args.rules} rules)"] = dnsperf(
                port, queries, args.seconds
            )
        finally:
            stop(proxy)
        log_lines = (folder / "faults.log").read_text().splitlines()
        faults_logged = sum(1 for line in log_lines if '"event":"dns_fault"' in line)

        if not args.no_dnslib_baseline:
            port = free_port()
            baseline = start(
                [
                    sys.executable,
                    "-m",
                    "dnslib.proxy",
                    "--port",
                    str(port),
                    "--address",
                    "127.0.0.1",
                    "--upstream",
                    f"127.0.0.1:{upstream.port}",
                    "--log=-request,-reply,-truncated,-error",
                ],
                port,
                hosts[0],
            )
            try:
                results["dnslib threaded proxy (no rules)"] = dnsperf(port, queries, args.seconds)
            finally:
                stop(baseline)
    shutil.rmtree(folder, ignore_errors=True)

    reference = results["dnsmasq (upstream, direct)"]["qps"]
    print(
        f"dnsperf, {args.seconds:g}s per server, {args.names} names, 100 queries outstanding, loopback"
    )
    print(f"{'server':40} {'qps':>9} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'lost %':>6}")
    for name, r in results.items():
        print(
            f"{name:40} {r['qps']:9.0f} {r['qps'] / reference:6.2f} {r['p50_ms']:7.2f} {r['p99_ms']:7.2f} {r['lost_pct']:6.2f}"
        )
    proxy_qps = next(r["qps"] for n, r in results.items() if n.startswith("aftershock"))
    print(f"faults injected and logged by the proxy: {faults_logged}")
    ratio = proxy_qps / reference
    print(
        f"proxy / dnsmasq throughput: {ratio:.2f}x (target >= 0.30x): {'met' if ratio >= 0.3 else 'NOT met'}"
    )
    print("(indicative: dnsperf, dnsmasq and the proxy share this machine's cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
