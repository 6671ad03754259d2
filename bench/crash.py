#!/usr/bin/env python3
"""Crash durability at scale: cycles of concurrent writes and `kill -9` (issue 13).

Each cycle starts `scimd serve` (plain HTTP on loopback) on one data directory, runs client
threads that create users, add each to the cycle's group and PATCH two of its fields together
(title and nickName, to the same value), kills the server with SIGKILL at a random moment,
restarts it and checks everything the clients were told or left in flight:

- every acknowledged create, member add and PATCH is there;
- a create in flight left a whole user (every attribute sent) or nothing;
- a member is in the group only if its add was acknowledged or in flight;
- both PATCHed fields are equal, and the last acknowledged or the in-flight value.

It prints the totals per cycle and a table at the end; `lost` must be 0.
The tests run the same in small (tests/it/crash.rs, 5 cycles).

Usage: python3 bench/crash.py target/release/scimd [--cycles 100] [--clients 8] [--seed N]
Python 3.11, standard library only; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

CONFIG = """\
# Written by bench/crash.py.
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
data_dir = "{data_dir}"

[tls]
mode = "off"

[log]
level = "warn"
"""


class Gone(Exception):
    """The server went away (killed) before answering."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/scim+json"
        try:
            self.conn.request(method, "/scim/v2" + path, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            raise Gone() from e
        return r.status, (json.loads(raw) if raw else {})


class Tracked:
    __slots__ = ("group", "id", "patch_acked", "patch_in_flight", "member_acked",
                 "member_in_flight")

    def __init__(self, group: str):
        self.group = group
        self.id: str | None = None
        self.patch_acked = 0
        self.patch_in_flight: int | None = None
        self.member_acked = False
        self.member_in_flight = False


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.users: dict[str, Tracked] = {}
        self.creates = self.member_adds = self.patches = 0


def user_body(name: str, i: int) -> dict:
    return {
        "schemas": [CORE_USER, ENTERPRISE], "userName": name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "emails": [{"value": name, "type": "work", "primary": True}],
        "active": True, "title": "p0", "nickName": "p0", "userType": "employee",
        ENTERPRISE: {"department": "R&D", "employeeNumber": str(i)},
    }


def patch(ops: list) -> dict:
    return {"schemas": [PATCHOP], "Operations": ops}


def client(port: int, token: str, ledger: Ledger, group: str, prefix: str, stop: threading.Event):
    c = Client(port, token)
    i = 0
    try:
        while not stop.is_set():
            name = f"{prefix}-{i}@example.org"
            i += 1
            t = Tracked(group)
            with ledger.lock:
                ledger.users[name] = t
            status, created = c.call("POST", "/Users", user_body(name, i))
            if status == 429:
                with ledger.lock:
                    del ledger.users[name]
                continue
            assert status == 201, (status, created)
            with ledger.lock:
                t.id = created["id"]
                ledger.creates += 1
            t.member_in_flight = True
            add = patch([{"op": "add", "path": "members", "value": [{"value": t.id}]}])
            status, r = c.call("PATCH", f"/Groups/{group}", add)
            assert status in (200, 204), (status, r)
            with ledger.lock:
                t.member_in_flight, t.member_acked = False, True
                ledger.member_adds += 1
            for n in (1, 2):
                t.patch_in_flight = n
                ops = [{"op": "replace", "path": "title", "value": f"p{n}"},
                       {"op": "replace", "path": "nickName", "value": f"p{n}"}]
                status, r = c.call("PATCH", f"/Users/{t.id}", patch(ops))
                assert status in (200, 204), (status, r)
                with ledger.lock:
                    t.patch_in_flight, t.patch_acked = None, n
                    ledger.patches += 1
    except Gone:
        pass


def verify(port: int, token: str, ledger: Ledger) -> list[str]:
    """Every broken promise, as text (empty when all held)."""
    c = Client(port, token)
    problems = []
    members: dict[str, set[str]] = {}
    for t in ledger.users.values():
        if t.group not in members:
            status, g = c.call("GET", f"/Groups/{t.group}")
            if status != 200:
                problems.append(f"group {t.group}: {status}")
                members[t.group] = set()
                continue
            members[t.group] = {m["value"] for m in g.get("members", [])}
    for name, t in ledger.users.items():
        f = quote(f'userName eq "{name}"')
        status, found = c.call("GET", f"/Users?filter={f}")
        res = found.get("Resources", [])
        if status != 200 or len(res) > 1:
            problems.append(f"{name}: lookup {status} {found}")
            continue
        if not res:
            if t.id is not None:
                problems.append(f"{name}: acknowledged create lost")
            continue
        u = res[0]
        if t.id is not None and u["id"] != t.id:
            problems.append(f"{name}: id {u['id']} != acknowledged {t.id}")
        whole = (u.get("userType") == "employee" and u.get("name", {}).get("givenName") == "Given"
                 and u.get(ENTERPRISE, {}).get("department") == "R&D"
                 and u.get("emails", [{}])[0].get("value") == name)
        if not whole:
            problems.append(f"{name}: half a create: {u}")
        title, nick = u.get("title"), u.get("nickName")
        if title != nick:
            problems.append(f"{name}: half a PATCH: title {title} nickName {nick}")
        else:
            stored = int(str(title).lstrip("p") or -1)
            if stored != t.patch_acked and stored != t.patch_in_flight:
                problems.append(f"{name}: p{stored}, acknowledged p{t.patch_acked}, "
                                f"in flight {t.patch_in_flight}")
        member = u["id"] in members[t.group]
        if t.member_acked and not member:
            problems.append(f"{name}: acknowledged member add lost")
        if member and not (t.member_acked or t.member_in_flight):
            problems.append(f"{name}: member without an add")
    return problems


def start(binary: Path, config: Path, port: int, log) -> subprocess.Popen:
    proc = subprocess.Popen([str(binary), "--config", str(config), "serve"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"scimd exited with {proc.returncode} before it was ready "
                     "(it must reopen the file after kill -9); see its log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            if ok:
                return proc
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.005)
    proc.kill()
    sys.exit("scimd was not ready within 120 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", type=Path)
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--min-ms", type=int, default=200, help="earliest kill after the start")
    ap.add_argument("--max-ms", type=int, default=1500, help="latest kill after the start")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    work = Path(tempfile.mkdtemp(prefix="scimd-crash-"))
    data_dir = work / "data"
    port = free_port()
    config = work / "config.toml"
    config.write_text(CONFIG.format(port=port, data_dir=data_dir))
    out = subprocess.run([str(args.binary), "--config", str(config), "token", "create",
                          "--name", "crash"], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        sys.exit(f"token create failed: {out.stderr}")
    token = out.stdout.strip().splitlines()[-1].strip()
    ledger = Ledger()
    log = (work / "scimd.log").open("ab")
    failures = 0
    started = time.monotonic()
    print(f"{args.cycles} cycles, {args.clients} clients, kill -9 after "
          f"{args.min_ms}-{args.max_ms} ms; work dir {work}")
    for cycle in range(args.cycles):
        proc = start(args.binary, config, port, log)
        problems = verify(port, token, ledger)
        if problems:
            failures += len(problems)
            for p in problems[:20]:
                print(f"  cycle {cycle}: {p}")
        c = Client(port, token)
        status, g = c.call("POST", "/Groups", {"schemas": [CORE_GROUP],
                                               "displayName": f"crash-{cycle}"})
        assert status == 201, (status, g)
        stop = threading.Event()
        threads = [threading.Thread(target=client, args=(port, token, ledger, g["id"],
                                                         f"c{cycle}-{k}", stop), daemon=True)
                   for k in range(args.clients)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(args.min_ms, args.max_ms) / 1000)
        proc.kill()
        proc.wait()
        stop.set()
        for t in threads:
            t.join(60)
        if (cycle + 1) % 10 == 0:
            print(f"  after {cycle + 1:3} cycles: {ledger.creates} creates, "
                  f"{ledger.member_adds} member adds, {ledger.patches} PATCHes acknowledged")
    proc = start(args.binary, config, port, log)
    problems = verify(port, token, ledger)
    failures += len(problems)
    for p in problems[:20]:
        print(f"  final: {p}")
    proc.terminate()
    proc.wait(60)
    elapsed = time.monotonic() - started
    print()
    print("| cycles | acknowledged creates | member adds | PATCHes | reopened | lost or torn | time |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.cycles} | {ledger.creates:,} | {ledger.member_adds:,} | {ledger.patches:,} "
          f"| {args.cycles}/{args.cycles} | {failures} | {elapsed:.0f} s |")
    if failures:
        print(f"the data directory and scimd's log are kept in {work}")
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
