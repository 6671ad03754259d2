#!/usr/bin/env python3
"""Instructions per request, counted by valgrind's callgrind: a comparison of scimd builds
that the noise of a shared machine does not move. Python 3.11, standard library only.

    python3 bench/instructions.py BINARY [BINARY...] [--users 1000] [--requests 2000]

For each binary, in a fresh temp directory on loopback (plain HTTP): loads --users
Entra-shaped users through the API (the binary running normally), restarts it under
`valgrind --tool=callgrind`, and for each workload sends 200 warm-up requests, zeroes the
counters, sends --requests sequential requests on one keep-alive connection and dumps the
counters. The figure is every instruction the server process ran (all threads: hyper, the
handlers, the blocking pool, the writer, the fsync's user-space side) divided by the
requests. Wall-clock speed is what `bench/run.py` measures; this says whether a change made
the server do more work per request, to a fraction of a percent, on any machine.

Needs valgrind (Debian: apt-get install valgrind). Only 127.0.0.1 is contacted; every loop
is bounded by a count.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

WORKLOADS = ["get", "filter", "post", "patch"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"scimd exited with {proc.returncode} before it was ready")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"scimd not ready on port {port} within {seconds} s")


def user_body(i: int, tag: str) -> dict:
    name = f"Given{i}.Family{i}.{tag}@contoso.example"
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": f"ext-{tag}-{i}",
        "userName": name,
        "active": True,
        "displayName": f"Given{i} Family{i}",
        "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
        "emails": [{"primary": True, "type": "work", "value": name}],
        "title": "Engineer",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
    }


class Client:
    """One keep-alive connection; every answer must be the expected status."""

    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}",
                        "Content-Type": "application/scim+json"}

    def send(self, method: str, path: str, body: dict | None, want: int) -> dict | None:
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers=self.headers)
        r = self.conn.getresponse()
        raw = r.read()
        if r.status != want:
            raise SystemExit(f"{method} {path}: {r.status} (wanted {want}): {raw[:300]!r}")
        return json.loads(raw) if raw else None


def request_for(workload: str, i: int, users: list[tuple[str, str]], tag: str):
    uid, name = users[i % len(users)]
    if workload == "get":
        return "GET", f"/scim/v2/Users/{uid}", None, 200
    if workload == "filter":
        q = urllib.parse.quote(f'userName eq "{name}"')
        return "GET", f"/scim/v2/Users?filter={q}", None, 200
    if workload == "post":
        return "POST", "/scim/v2/Users", user_body(i, tag), 201
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "title", "value": f"Title {tag} {i}"}]}
    return "PATCH", f"/scim/v2/Users/{uid}", body, 200


def dump_total(path_prefix: str, before: set[str]) -> int:
    """The instruction total of the newest callgrind dump written after `before`."""
    for _ in range(100):
        new = sorted(set(Path(path_prefix).parent.glob(Path(path_prefix).name + "*")) - before,
                     key=lambda p: p.stat().st_mtime)
        for p in reversed(new):
            for line in p.read_text(errors="replace").splitlines():
                if line.startswith(("totals:", "summary:")):
                    return int(line.split()[1])
        time.sleep(0.2)
    raise SystemExit("callgrind wrote no dump")


def measure(binary: str, users_n: int, requests: int, workloads: list[str]) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="scimd-instr-"))
    try:
        port = free_port()
        config = work / "config.toml"
        config.write_text(
            f'listen = "127.0.0.1:{port}"\npublic_url = "http://127.0.0.1:{port}"\n'
            f'data_dir = "{work / "data"}"\n[tls]\nmode = "off"\n[log]\nlevel = "warn"\n')
        base = [binary, "--config", str(config)]
        out = subprocess.run(base + ["token", "create", "--name", "instr"], check=True,
                             capture_output=True, text=True).stdout
        token = out.strip().splitlines()[-1].strip()

        log = open(work / "scimd.log", "w")
        proc = subprocess.Popen(base + ["serve"], stdout=log, stderr=log)
        try:
            wait_ready(port, proc, 20)
            c = Client(port, token)
            users = []
            for i in range(users_n):
                created = c.send("POST", "/scim/v2/Users", user_body(i, "load"), 201)
                users.append((created["id"], created["userName"]))
        finally:
            proc.terminate()
            proc.wait(30)

        prefix = str(work / "callgrind.out")
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={prefix}.%p"] + base
            + ["serve"], stdout=log, stderr=log)
        result = {}
        try:
            wait_ready(port, proc, 120)
            c = Client(port, token)
            for w in workloads:
                for i in range(200):
                    c.send(*request_for(w, i, users, "warm"))
                before = set(work.glob("callgrind.out*"))
                subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True,
                               capture_output=True)
                for i in range(requests):
                    c.send(*request_for(w, i, users, f"run{w}"))
                subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True,
                               capture_output=True)
                result[w] = dump_total(prefix, before) / requests
        finally:
            proc.send_signal(2)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binaries", nargs="+", help="scimd release binaries; the first is the base")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help=f"comma-separated, of {','.join(WORKLOADS)}")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("bench/instructions.py needs valgrind (Debian: apt-get install valgrind)")
    workloads = [w for w in args.workloads.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            raise SystemExit(f"unknown workload {w!r}; known: {', '.join(WORKLOADS)}")
    results = []
    for b in args.binaries:
        print(f"measuring {b} ...", file=sys.stderr, flush=True)
        results.append(measure(b, args.users, args.requests, workloads))

    print(f"\ninstructions per request (thousands; {args.requests} sequential requests per "
          f"workload, {args.users} users, plain HTTP on loopback, counted by callgrind)\n")
    head = f"{'workload':<10}" + "".join(f"{Path(b).name[:18]:>20}" for b in args.binaries)
    if len(args.binaries) > 1:
        head += "".join(f"{'ratio ' + str(i + 1):>10}" for i in range(1, len(args.binaries)))
    print(head)
    print("-" * len(head))
    for w in workloads:
        row = f"{w:<10}" + "".join(f"{r[w] / 1000:>20.1f}" for r in results)
        row += "".join(f"{r[w] / results[0][w]:>10.3f}" for r in results[1:])
        print(row)


if __name__ == "__main__":
    main()
