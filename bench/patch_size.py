#!/usr/bin/env python3
"""PATCH size: how the cost of one PATCH grows with its number of operations, and how long it
holds the single writer (which every other client's write waits behind).

It starts `scimd serve` (plain HTTP on loopback, `[metrics] listen` on another loopback port,
the `[limits]` of section "limits" raised far above their defaults so the big PATCHes are
accepted), creates one user and one group of M users, then for each size N in --sizes:
  - `emails`: one PATCH of N `add emails` operations (N distinct work addresses) on a fresh
    user;
  - `members`: one PATCH of N `add members` operations (one member each) on a fresh group.
While each PATCH runs, a second connection POSTs small users one after another, so the table
also shows what a concurrent small write waits. Writer time is the growth of
`scimd_write_batch_commit_duration_seconds_sum` over the PATCH (the writer thread's time from
taking a batch to its durable commit; the small writes' own batches are subtracted by their
count times their median batch time measured beforehand).

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
                      "max_members_per_request = 1000000\n")
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

    # The median writer time of a small write's batch, to subtract the concurrent writes'.
    small = Client(port, token)
    s0, c0 = metric_sum(metrics_port, "")
    for i in range(50):
        small.request("POST", "/scim/v2/Users",
                      {"schemas": [USER], "userName": f"calib{i}@example.com"})
    s1, c1 = metric_sum(metrics_port, "")
    small_batch = (s1 - s0) / max(1, c1 - c0)

    print(f"scimd PATCH-size benchmark — {'default' if args.defaults else 'raised'} limits; "
          f"one small-write batch = {small_batch * 1000:.2f} ms")
    print(f"{'kind':<8} {'ops':>6} {'status':>6} {'PATCH ms':>9} {'writer ms':>10} "
          f"{'small writes':>12} {'small max ms':>12}")
    for kind in ("emails", "members"):
        for n in sizes:
            if kind == "emails":
                status, payload = main_c.request(
                    "POST", "/scim/v2/Users",
                    {"schemas": [USER], "userName": f"{kind}{n}-{secrets.token_hex(3)}@example.com"})
                target = f"/scim/v2/Users/{json.loads(payload)['id']}"
                ops = [{"op": "add", "path": "emails",
                        "value": [{"value": f"a{j}@example.com", "type": "work"}]}
                       for j in range(n)]
            else:
                status, payload = main_c.request(
                    "POST", "/scim/v2/Groups",
                    {"schemas": [GROUP], "displayName": f"g{n}-{secrets.token_hex(3)}"})
                target = f"/scim/v2/Groups/{json.loads(payload)['id']}"
                ops = [{"op": "add", "path": "members", "value": [{"value": member_ids[j]}]}
                       for j in range(n)]
            body = {"schemas": [PATCH_OP], "Operations": ops}

            stop = threading.Event()
            latencies = []

            def writes():
                c = Client(port, token)
                i = 0
                while not stop.is_set():
                    t = time.monotonic()
                    c.request("POST", "/scim/v2/Users",
                              {"schemas": [USER],
                               "userName": f"w{kind}{n}-{i}-{secrets.token_hex(3)}@example.com"})
                    latencies.append((time.monotonic() - t) * 1000)
                    i += 1

            s0, c0 = metric_sum(metrics_port, "")
            writer = threading.Thread(target=writes)
            writer.start()
            time.sleep(0.05)
            t = time.monotonic()
            status, payload = main_c.request("PATCH", target, body)
            took = (time.monotonic() - t) * 1000
            time.sleep(0.05)
            stop.set()
            writer.join()
            s1, c1 = metric_sum(metrics_port, "")
            # Every batch but the PATCH's own holds small writes (batches of 1 when the
            # writer is idle): subtract them at their calibrated cost.
            others = max(0.0, (c1 - c0) - 1)
            writer_ms = max(0.0, (s1 - s0) - others * small_batch) * 1000
            if status >= 300:
                detail = json.loads(payload).get("scimType", "")
                status = f"{status} {detail}"
            print(f"{kind:<8} {n:>6} {status!s:>6} {took:>9.1f} {writer_ms:>10.1f} "
                  f"{len(latencies):>12} {max(latencies, default=0):>12.1f}")


if __name__ == "__main__":
    main()
