#!/usr/bin/env python3
"""Provisioning-log retention under load: how long scimd takes to prune N expired log entries,
and what the pruning does to the latency of writes made meanwhile.

It writes a backup holding N log entries from 60 days ago and one token, restores it with the
given binary, starts `scimd serve` (plain HTTP on loopback, `[log] keep_days = 30`), and POSTs
users one after another on one keep-alive connection from the moment the server is up: first
while the prune runs (until the server logs "pruned the provisioning log"), then for as long
again with nothing to prune. It prints the prune time and both latency distributions.

Usage: python3 bench/retention.py target/release/scimd [--entries 100000]
"""

import argparse
import datetime
import http.client
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time

def write_backup(path, entries, token):
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=60)
    stamp = old.strftime("%Y-%m-%dT%H:%M:%S.") + f"{old.microsecond // 1000:03d}Z"
    header = {
        "format": "scimd-backup", "version": 1, "schema": 5, "scimd": "bench",
        "created": stamp,
        "counts": {"users": 0, "groups": 0, "members": 0, "tokens": 1, "log": entries},
    }
    with open(path, "w") as out:
        out.write(json.dumps(header) + "\n")
        out.write(json.dumps({"token": token}) + "\n")
        for seq in range(1, entries + 1):
            out.write(json.dumps({"log": {
                "seq": seq, "time": stamp, "token": "entra", "operation": "create",
                "resource_type": "User",
                "resource_id": "3f5ef7f6-82fe-4022-a8f9-%012d" % seq,
                "name": f"user{seq}@contoso.example", "status": 201,
                "roles": "from userType 'Employee': member"}}) + "\n")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)

    with tempfile.TemporaryDirectory(prefix="scimd-retention-") as tmp:
        config = os.path.join(tmp, "config.toml")
        port = 20000 + secrets.randbelow(20000)
        with open(config, "w") as f:
            f.write(f'listen = "127.0.0.1:{port}"\ndata_dir = "{tmp}/data"\n'
                    '[tls]\nmode = "off"\n[log]\nkeep_days = 30\nlevel = "info"\n')
        # A token issued by the binary itself; its secret is the bearer of every request.
        issued = subprocess.run([binary, "--config", config, "token", "create", "--name", "bench"],
                                capture_output=True, text=True, check=True)
        token = issued.stdout.strip().splitlines()[-1]
        # Its stored form (argon2id hash) goes into the synthetic backup, so it keeps working.
        subprocess.run([binary, "--config", config, "backup", f"{tmp}/token.jsonl"],
                       capture_output=True, text=True, check=True)
        with open(f"{tmp}/token.jsonl") as f:
            stored = next(json.loads(l)["token"] for l in f if l.startswith('{"token"'))
        write_backup(f"{tmp}/backup.jsonl", args.entries, stored)
        started = time.monotonic()
        subprocess.run([binary, "--config", config, "restore", "--force", f"{tmp}/backup.jsonl"],
                       capture_output=True, text=True, check=True)
        restored_in = time.monotonic() - started

        env = dict(os.environ, MALLOC_ARENA_MAX="2")
        server = subprocess.Popen([binary, "--config", config, "serve"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        pruned = threading.Event()
        prune_line = []
        serving = threading.Event()

        def watch():
            for line in server.stderr:
                if "scimd is serving" in line:
                    serving.set()
                if "pruned the provisioning log" in line:
                    prune_line.append((time.monotonic(), line.strip()))
                    pruned.set()
        threading.Thread(target=watch, daemon=True).start()
        if not serving.wait(30):
            sys.exit("scimd did not start")
        t0 = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", port)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        # The token's first use pays for argon2 (tens of ms): not the prune's doing.
        conn.request("GET", "/scim/v2/Users?count=1", headers=headers)
        conn.getresponse().read()
        during, after, i = [], [], 0
        phase_end = None
        while True:
            body = json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                               "userName": f"new{i}@contoso.example"})
            i += 1
            sent = time.monotonic()
            conn.request("POST", "/scim/v2/Users", body, headers)
            response = conn.getresponse()
            response.read()
            took = (time.monotonic() - sent) * 1000
            if response.status != 201:
                sys.exit(f"POST answered {response.status}")
            if not pruned.is_set():
                during.append(took)
            else:
                if phase_end is None:
                    phase_end = time.monotonic() + (prune_line[0][0] - t0)
                after.append(took)
                if time.monotonic() >= phase_end or len(after) >= 20_000:
                    break
            if time.monotonic() - t0 > 300:
                sys.exit("no prune within 300 s")
        server.terminate()
        server.wait(30)

        prune_s = prune_line[0][0] - t0
        print(f"scimd retention benchmark — {args.entries:,} expired log entries; keep_days = 30")
        print(f"restore of the synthetic backup: {restored_in:.1f} s")
        print(f"prune: {prune_s:.2f} s after start ({args.entries / prune_s:,.0f} entries/s); "
              f"server said: {prune_line[0][1]}")
        print(f"{'sequential POST /Users':<28} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for name, values in (("while pruning", during), ("afterwards", after)):
            print(f"{name:<28} {len(values):>6} {percentile(values, 0.5):>8.2f} "
                  f"{percentile(values, 0.99):>8.2f} {max(values, default=float('nan')):>8.2f}")


if __name__ == "__main__":
    main()
