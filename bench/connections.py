#!/usr/bin/env python3
"""Connections an attacker can hold (issue 13 §4). Python 3.11, standard library only.

    python3 bench/connections.py target/release/scimd [--idle 2000] [--slow 200]
                                 [--seconds 20] [--tls both|on|off]

For each transport (plain HTTP, then HTTPS with the generated self-signed certificate), it
starts scimd with its default `[limits]` on a fresh data directory on 127.0.0.1 and then:

- opens `--idle` connections that send nothing (plain TCP: the cheapest attack, also against
  the TLS port) and `--slow` slowloris connections (TLS handshake on the HTTPS port, then a
  request line and one header byte every `--drip` seconds); every attacker reconnects as
  soon as the server cuts it;
- meanwhile one client, in its own process, makes sequential requests for `--seconds`, each
  on a new connection (connect, TLS handshake, `GET /scim/v2/Users?filter=...` with a bearer
  token, read the answer): the case the cap used to stall;
- samples the server's VmRSS from /proc every 0.5 s.

It prints, per transport: requests, failed requests (an error or a non-200), latency
p50/p99/max, peak RSS, and how often the attackers were cut. Goal: p99 <= 50 ms, 0 failed,
RSS <= 100 MB. Only 127.0.0.1 is contacted; every loop is bounded by the duration.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import multiprocessing as mp
import os
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def raise_nofile() -> int:
    """Raises this process's open-file limit to its hard limit (scimd, started from here,
    inherits it) and returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Server:
    def __init__(self, binary: str, tls: bool, work: Path):
        self.port = free_port()
        self.tls = tls
        data = work / ("data-tls" if tls else "data-plain")
        self.config = work / ("tls.toml" if tls else "plain.toml")
        mode = "self-signed" if tls else "off"
        self.config.write_text(
            f'listen = "127.0.0.1:{self.port}"\n'
            f'public_url = "{"https" if tls else "http"}://127.0.0.1:{self.port}"\n'
            f'data_dir = "{data}"\n[tls]\nmode = "{mode}"\n[log]\nlevel = "warn"\n'
        )
        out = subprocess.run(
            [binary, "--config", str(self.config), "token", "create", "--name", "bench"],
            check=True, capture_output=True, text=True,
        )
        self.token = out.stdout.strip().splitlines()[-1].strip()
        env = dict(os.environ, MALLOC_ARENA_MAX="2")
        self.proc = subprocess.Popen(
            [binary, "--config", str(self.config), "serve"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if one_request(self.port, tls, None, "/healthz", 2.0) == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("scimd did not become ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


_CONTEXT: ssl.SSLContext | None = None


def client_context() -> ssl.SSLContext:
    """One client TLS context per process (building one loads the system CA store, tens of
    ms: it must not be in the measured time). The self-signed certificate is not verified."""
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        _CONTEXT.check_hostname = False
        _CONTEXT.verify_mode = ssl.CERT_NONE
    return _CONTEXT


def one_request(port: int, tls: bool, token: str | None, path: str, timeout: float) -> int:
    """One request on a new connection; returns the status."""
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout,
                                           context=client_context())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Accept": "application/scim+json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def client(port: int, tls: bool, token: str, seconds: float, out) -> None:
    """The legitimate client: sequential requests, each on a new connection."""
    path = "/scim/v2/Users?filter=userName%20eq%20%22nobody%40contoso.example%22"
    latencies, failed, errors = [], 0, {}
    try:
        one_request(port, tls, token, path, 10.0)  # pays the token's argon2 once
    except (OSError, http.client.HTTPException) as e:
        failed, errors = 1, {f"warm-up {type(e).__name__}": 1}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.monotonic()
        try:
            status = one_request(port, tls, token, path, 10.0)
            ok = status == 200
            if not ok:
                errors[str(status)] = errors.get(str(status), 0) + 1
        except (OSError, http.client.HTTPException) as e:
            ok = False
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
        elapsed = time.monotonic() - start
        if ok:
            latencies.append(elapsed)
        else:
            failed += 1
    out.send((latencies, failed, errors))


async def idle_attacker(port: int, stop: asyncio.Event, stats: dict) -> None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            stats["connect_errors"] += 1
            await asyncio.sleep(0.1)
            continue
        try:
            stop_wait = asyncio.ensure_future(stop.wait())
            read = asyncio.ensure_future(reader.read(1))
            await asyncio.wait({stop_wait, read}, return_when=asyncio.FIRST_COMPLETED)
            if read.done():
                stats["idle_cut"] += 1
            for f in (stop_wait, read):
                f.cancel()
        except OSError:
            stats["idle_cut"] += 1
        finally:
            writer.close()


async def slow_attacker(port: int, tls: bool, drip: float, stop: asyncio.Event,
                        stats: dict) -> None:
    ctx = client_context() if tls else None
    while not stop.is_set():
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, ssl=ctx), 10)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            stats["connect_errors"] += 1
            await asyncio.sleep(0.1)
            continue
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            await writer.drain()
            while not stop.is_set():
                try:
                    data = await asyncio.wait_for(reader.read(1), drip)
                    if not data:
                        break  # cut
                except asyncio.TimeoutError:
                    pass
                writer.write(b"X")
                await writer.drain()
            stats["slow_cut"] += 0 if stop.is_set() else 1
        except (OSError, ssl.SSLError):
            stats["slow_cut"] += 1
        finally:
            writer.close()


async def attack(port: int, tls: bool, args, client_done: asyncio.Event, stats: dict) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(idle_attacker(port, stop, stats)) for _ in range(args.idle)]
    tasks += [asyncio.create_task(slow_attacker(port, tls, args.drip, stop, stats))
              for _ in range(args.slow)]
    await client_done.wait()
    stop.set()
    await asyncio.wait(tasks, timeout=15)
    for t in tasks:
        t.cancel()


def run_transport(binary: str, tls: bool, args, work: Path) -> dict:
    server = Server(binary, tls, work)
    try:
        rss_idle = rss_kib(server.proc.pid)
        stats = {"idle_cut": 0, "slow_cut": 0, "connect_errors": 0}

        async def main() -> tuple:
            client_done = asyncio.Event()
            attackers = asyncio.create_task(attack(server.port, tls, args, client_done, stats))
            await asyncio.sleep(args.warmup)  # let the attackers fill the cap
            parent, child = mp.Pipe(duplex=False)
            proc = mp.Process(target=client, args=(server.port, tls, server.token,
                                                   args.seconds, child))
            proc.start()
            peak = rss_kib(server.proc.pid)
            loop = asyncio.get_running_loop()
            result = loop.run_in_executor(None, parent.recv)
            give_up = time.monotonic() + args.seconds + 30
            while not result.done() and time.monotonic() < give_up:
                peak = max(peak, rss_kib(server.proc.pid))
                await asyncio.sleep(0.5)
            client_done.set()
            await attackers
            if not result.done():
                proc.kill()
                child.close()
            proc.join(5)
            try:
                return await asyncio.wait_for(result, 5), peak
            except (asyncio.TimeoutError, EOFError):
                return ([], 1, {"client never finished": 1}), peak

        (latencies, failed, errors), peak = asyncio.run(main())
    finally:
        server.stop()
    latencies.sort()

    def q(p: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "transport": "HTTPS" if tls else "plain",
        "requests": len(latencies) + failed,
        "failed": failed,
        "errors": errors,
        "p50": q(0.50),
        "p99": q(0.99),
        "max": latencies[-1] * 1000 if latencies else float("nan"),
        "rss_idle_mb": rss_idle / 1024,
        "rss_peak_mb": peak / 1024,
        **stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("binary")
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--drip", type=float, default=3.0, help="seconds between header bytes")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--tls", choices=["both", "on", "off"], default="both")
    args = parser.parse_args()
    nofile = raise_nofile()
    need = 2 * (args.idle + args.slow) + 100
    if nofile < need:
        sys.exit(f"open-file limit {nofile} < {need}; raise the hard limit (ulimit -Hn)")
    modes = {"both": [False, True], "on": [True], "off": [False]}[args.tls]
    rows = []
    with tempfile.TemporaryDirectory(prefix="scimd-conn-bench-") as work:
        for tls in modes:
            rows.append(run_transport(args.binary, tls, args, Path(work)))
    print(f"\n{args.idle} idle + {args.slow} slowloris attackers (reconnecting), one client "
          f"making sequential requests on new connections for {args.seconds:g} s; "
          f"scimd default [limits]\n")
    print("| transport | requests | failed | p50 ms | p99 ms | max ms | RSS idle MB | "
          "RSS peak MB | idle cut | slowloris cut |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['transport']} | {r['requests']} | {r['failed']} | {r['p50']:.1f} | "
              f"{r['p99']:.1f} | {r['max']:.1f} | {r['rss_idle_mb']:.1f} | "
              f"{r['rss_peak_mb']:.1f} | {r['idle_cut']} | {r['slow_cut']} |")
    for r in rows:
        if r["errors"]:
            print(f"{r['transport']} failures: {r['errors']}")
    ok = all(r["p99"] <= 50 and r["failed"] == 0 and r["rss_peak_mb"] <= 100 for r in rows)
    print(f"\ngoal (p99 <= 50 ms, 0 failed, RSS <= 100 MB): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
