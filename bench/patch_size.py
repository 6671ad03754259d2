#!/usr/bin/env python3
"""PATCH size: how the cost of one PATCH grows with its number of operations, and how long it
holds the single writer (which every other client's write waits behind).

It starts `scimd serve` (plain HTTP on loopback, `[metrics] listen` on another loopback port,
the `[limits]` of section "limits" raised far above their defaults so the big PATCHes are
accepted), creates one user and one group of M users, then for each size N in --sizes:
  - `emails`: one PATCH of N `add emails` operations (N distinct work addresses) on a fresh
    user;
  - `filtered`: one PATCH of N `replace emails[value eq "..."].display` operations on a user
    with 100 emails (each operation scans the list: the costliest kind per operation);
  - `members`: one PATCH of N `add members` operations (one member each) on a fresh group;
  - `matching` (only with --kinds): one PATCH of N `remove members[type eq "Group"]` on a
    group holding every member user (max(--sizes) of them): each reads every member row.
Each PATCH runs twice on fresh resources. Alone: "writer ms" is the growth of
`scimd_write_batch_commit_duration_seconds_sum` over it (the writer thread's time from taking
the batch holding the PATCH to its durable commit, fsync included; "batches" says it was one,
or two when the refusal row of a refused PATCH is written on its own). Then with a second
connection POSTing small users one after another: "small max ms" is the longest such write,
i.e. what another client's write waits behind the PATCH.

With --defaults the limits are left at their defaults, so the sizes above the operation limit
are refused (400 tooMany) and the table shows the worst case a default server admits.

Usage: python3 bench/patch_size.py target/release/scimd [--sizes 10,100,1000,10000] [--defaults]
       [--old]   (a binary from before the limit keys existed: no [limits] keys are written)
"""

import argparse
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.headers = {"Authorization": f"Bearer {token}",
                        "Content-Type": "application/scim+json"}

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body)
        self.conn.request(method, path, data, self.headers)
        response = self.conn.getresponse()
        payload = response.read()
        return response.status, payload


def metric_sum(port, name):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    values = {}
    for line in text.splitlines():
        m = re.match(r"^(scimd_write_batch_commit_duration_seconds_(sum|count))\s+(\S+)", line)
        if m:
            values[m.group(2)] = float(m.group(3))
    return values.get("sum", 0.0), values.get("count", 0.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--kinds", default="emails,filtered,members",
                        help="of emails, filtered, members, matching")
    parser.add_argument("--defaults", action="store_true",
                        help="keep [limits] at their defaults")
    parser.add_argument("--old", action="store_true",
                        help="the binary predates the limit keys: write none")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    sizes = [int(s) for s in args.sizes.split(",")]
    biggest = max(sizes)

    with tempfile.TemporaryDirectory(prefix="scimd-patch-") as tmp:
        port, metrics_port = free_port(), free_port()
        limits = ""
        if not args.old and not args.defaults:
            limits = ("max_operations_per_patch = 1000000\nmax_values_per_attribute = 1000000\n"
                      "max_members_per_request = 1000000\nmax_member_filters_per_patch = 1000000\n")
        with open(f"{tmp}/config.toml", "w") as f:
            f.write(f'listen = "127.0.0.1:{port}"\ndata_dir = "{tmp}/data"\n'
                    '[tls]\nmode = "off"\n[log]\nlevel = "warn"\n'
                    f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n'
                    f'[limits]\nmax_body_bytes = 67108864\nrequest_timeout_secs = 600\n{limits}')
        config = f"{tmp}/config.toml"
        issued = subprocess.run([binary, "--config", config, "token", "create", "--name", "bench"],
                                capture_output=True, text=True, check=True)
        token = issued.stdout.strip().splitlines()[-1]
        env = dict(os.environ, MALLOC_ARENA_MAX="2")
        server = subprocess.Popen([binary, "--config", config, "serve"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    c = Client(port, token)
                    status, _ = c.request("GET", "/scim/v2/Users?count=1")
                    if status == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    sys.exit("scimd did not start")
                time.sleep(0.05)
            run(args, sizes, biggest, port, metrics_port, token)
        finally:
            server.terminate()
            server.wait(30)


def run(args, sizes, biggest, port, metrics_port, token):
    main_c = Client(port, token)
    # The members: plain users, created by 8 connections at once (their commits group).
    member_ids = [None] * biggest

    def create(first):
        c = Client(port, token)
        for i in range(first, biggest, 8):
            status, payload = c.request("POST", "/scim/v2/Users",
                                        {"schemas": [USER], "userName": f"m{i}@example.com"})
            if status != 201:
                sys.exit(f"creating member {i}: {status} {payload[:200]!r}")
            member_ids[i] = json.loads(payload)["id"]
    creators = [threading.Thread(target=create, args=(k,)) for k in range(8)]
    for t in creators:
        t.start()
    for t in creators:
        t.join()

    print(f"scimd PATCH-size benchmark — "
          f"{'default' if args.defaults else 'old' if args.old else 'raised'} limits")
    print(f"{'kind':<8} {'ops':>6} {'status':>14} {'PATCH ms':>9} {'writer ms':>10} "
          f"{'batches':>7} {'small writes':>12} {'small max ms':>12}")
    for kind in args.kinds.split(","):
        for n in sizes:
            # Twice: alone (the writer-time figure is then the PATCH's batch alone), then with
            # a concurrent small writer (what another client's write waits).
            quiet = patch_once(main_c, kind, n, member_ids, metrics_port, None)
            loud = patch_once(main_c, kind, n, member_ids, metrics_port, (port, token))
            status, took, writer_ms, batches, _ = quiet
            _, _, _, _, latencies = loud
            print(f"{kind:<8} {n:>6} {status!s:>14} {took:>9.1f} {writer_ms:>10.1f} "
                  f"{batches:>7.0f} {len(latencies):>12} {max(latencies, default=0):>12.1f}")


def patch_once(main_c, kind, n, member_ids, metrics_port, concurrent):
    tag = secrets.token_hex(4)
    if kind == "emails":
        status, payload = main_c.request(
            "POST", "/scim/v2/Users", {"schemas": [USER], "userName": f"{kind}{n}-{tag}@example.com"})
        target = f"/scim/v2/Users/{json.loads(payload)['id']}"
        ops = [{"op": "add", "path": "emails",
                "value": [{"value": f"a{j}@example.com", "type": "work"}]} for j in range(n)]
    elif kind == "filtered":
        # The worst case per operation the default limits allow: each operation scans a list
        # of max_values_per_attribute (100) values.
        emails = [{"value": f"a{j}@example.com", "type": "work"} for j in range(100)]
        status, payload = main_c.request(
            "POST", "/scim/v2/Users",
            {"schemas": [USER], "userName": f"{kind}{n}-{tag}@example.com", "emails": emails})
        target = f"/scim/v2/Users/{json.loads(payload)['id']}"
        ops = [{"op": "replace", "path": f'emails[value eq "a{j % 100}@example.com"].display',
                "value": f"d{j}"} for j in range(n)]
    elif kind == "matching":
        # A removal by a filter that is not a list of ids reads every member row: N of them
        # on a group of every member user (filled 1,000 per PATCH), removing none.
        status, payload = main_c.request(
            "POST", "/scim/v2/Groups", {"schemas": [GROUP], "displayName": f"m{n}-{tag}"})
        target = f"/scim/v2/Groups/{json.loads(payload)['id']}"
        for k in range(0, len(member_ids), 1000):
            chunk = [{"value": m} for m in member_ids[k:k + 1000]]
            main_c.request("PATCH", target, {"schemas": [PATCH_OP], "Operations": [
                {"op": "add", "path": "members", "value": chunk}]})
        ops = [{"op": "remove", "path": 'members[type eq "Group"]'} for _ in range(n)]
    else:
        status, payload = main_c.request(
            "POST", "/scim/v2/Groups", {"schemas": [GROUP], "displayName": f"g{n}-{tag}"})
        target = f"/scim/v2/Groups/{json.loads(payload)['id']}"
        ops = [{"op": "add", "path": "members", "value": [{"value": member_ids[j]}]}
               for j in range(n)]
    body = {"schemas": [PATCH_OP], "Operations": ops}
    stop = threading.Event()
    latencies = []

    def writes(port, token):
        c = Client(port, token)
        i = 0
        while not stop.is_set():
            t = time.monotonic()
            c.request("POST", "/scim/v2/Users",
                      {"schemas": [USER], "userName": f"w{kind}{n}-{i}-{tag}@example.com"})
            latencies.append((time.monotonic() - t) * 1000)
            i += 1

    s0, c0 = metric_sum(metrics_port, "")
    writer = None
    if concurrent:
        writer = threading.Thread(target=writes, args=concurrent)
        writer.start()
        time.sleep(0.05)
    t = time.monotonic()
    status, payload = main_c.request("PATCH", target, body)
    took = (time.monotonic() - t) * 1000
    if writer:
        time.sleep(0.05)
        stop.set()
        writer.join()
    s1, c1 = metric_sum(metrics_port, "")
    if status >= 300:
        status = f"{status} {json.loads(payload).get('scimType', '')}"
    return status, took, (s1 - s0) * 1000, c1 - c0, latencies


if __name__ == "__main__":
    main()
