#!/usr/bin/env python3
"""Legitimate latency while attackers guess secrets for the same token id (issue 13, item 5).

    python3 bench/auth.py BINARY [BINARY...] [--seconds 10] [--attackers 4]

For each binary (say a build before the argon2 bounds and one after), on loopback over plain
HTTP with a fresh data directory: issues a token, verifies it once, then for --seconds runs
--attackers processes that each send GET /scim/v2/Users with the right token id and a new
wrong secret per request (each costs scimd an argon2 check unless refused first), while one
legitimate client sends the same request with the real token in a loop. Prints the legitimate
client's p50/p99/max and request count, and what the attackers got, with no attacker first
as the baseline. Standard library only; only 127.0.0.1 is contacted; every loop is bounded.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """\
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
data_dir = "{data_dir}"

[tls]
mode = "off"

[log]
level = "warn"
"""

PATH = "/scim/v2/Users?count=1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(conn: http.client.HTTPConnection, token: str) -> int:
    conn.request("GET", PATH, headers={"Authorization": f"Bearer {token}"})
    r = conn.getresponse()
    r.read()
    return r.status


def attacker(port: int, token_id: str, until: float, out: mp.Queue) -> None:
    counts: dict[int, int] = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < until:
        guess = f"scimd_{token_id}_{secrets.token_hex(32)}"
        try:
            status = get(conn, guess)
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status = 0
        counts[status] = counts.get(status, 0) + 1
    out.put(counts)


def pct(sorted_vals: list[float], p: float) -> float:
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, int(p / 100 * len(sorted_vals)))]


def run(binary: Path, seconds: float, attackers: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="scimd-bench-auth-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        port = free_port()
        config = Path(tmp) / "config.toml"
        config.write_text(CONFIG.format(port=port, data_dir=data))
        out = subprocess.run([str(binary), "--config", str(config), "token", "create",
                              "--name", "bench"], capture_output=True, text=True, timeout=60)
        token = out.stdout.strip().splitlines()[-1].strip()
        token_id = token.split("_")[1]
        proc = subprocess.Popen([str(binary), "--config", str(config), "serve"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    if get(conn, token) == 200:
                        break
                except OSError:
                    time.sleep(0.05)
                if time.monotonic() > deadline:
                    raise RuntimeError("scimd did not answer within 30 s")
            until = time.monotonic() + seconds
            q: mp.Queue = mp.Queue()
            procs = [mp.Process(target=attacker, args=(port, token_id, until, q))
                     for _ in range(attackers)]
            for p in procs:
                p.start()
            lat: list[float] = []
            bad = 0
            while time.monotonic() < until:
                t = time.perf_counter()
                status = get(conn, token)
                lat.append((time.perf_counter() - t) * 1000)
                bad += status != 200
            attacked: dict[int, int] = {}
            for _ in procs:
                for k, v in q.get(timeout=60).items():
                    attacked[k] = attacked.get(k, 0) + v
            for p in procs:
                p.join(timeout=10)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    lat.sort()
    return {"n": len(lat), "p50": pct(lat, 50), "p99": pct(lat, 99), "max": lat[-1],
            "not_200": bad, "attackers": attacked}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("binaries", nargs="+", type=Path)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--attackers", type=int, default=4)
    args = p.parse_args()
    print(f"{'binary':<28} {'attackers':>9} {'requests':>8} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'not 200':>7}  attacker statuses")
    for binary in args.binaries:
        for n in (0, args.attackers):
            r = run(binary, args.seconds, n)
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r["attackers"].items())) or "-"
            print(f"{str(binary)[-28:]:<28} {n:>9} {r['n']:>8} {r['p50']:>7.2f} "
                  f"{r['p99']:>7.2f} {r['max']:>7.2f} {r['not_200']:>7}  {statuses}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
