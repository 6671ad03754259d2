#!/usr/bin/env python3
"""Run the public SCIM conformance suites against a scimd binary.

    python conformance/run.py target/release/scimd [--suite NAME] [--verbose] [--keep]

For each suite (scim2-tester, then scim-sanity) this starts a fresh scimd: a new temporary
data directory and config (HTTPS with the self-signed certificate scimd generates, which the
suite is given as its only trusted CA), a token from `scimd token create`, `scimd serve` on a
free loopback port, and a wait for `/healthz`. It runs the suite, stops the server with SIGTERM
and collects every check's result.

A check passes when the suite says so. A check that does not pass is accepted only when
conformance/deviations.toml lists it (suite, check name, status, message substring). The run
fails on any other check that does not pass, on a listed deviation that did not happen, on a
suite that ran suspiciously few checks, and on a server that does not start or stop cleanly.
Exit status: 0 all good, 1 a failure, 2 bad usage or a missing suite.

Standard library only, plus the two suites (installed from conformance/requirements.txt).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEVIATIONS_FILE = HERE / "deviations.toml"
SUITES = ("scim2-tester", "scim-sanity")

# A suite that reports fewer results than this did not really run (a discovery failure makes
# scim2-tester stop after a handful of checks; a crash makes scim-sanity print nothing).
MIN_RESULTS = {"scim2-tester": 45, "scim-sanity": 25}

# Why the conformance server's config differs from the built-in defaults:
#  - the suites send random strings as userType and as role values: accept them;
#  - no default roles: scimd gives a user without IdP roles the roles derived from its userType
#    (the product's userType -> roles feature), so `remove roles` would bring derived roles
#    back; with no default roles the suites see plain RFC 7644 semantics;
#  - a custom extension schema (issue 16) with string, boolean, integer, reference, multi-valued
#    and complex attributes: the suites discover it through /Schemas and /ResourceTypes
#    (scim2-tester fills and checks its attributes), as Okta's profile editor does. Not decimal
#    or dateTime: scim2-tester 0.5.2's filler has no case for them and sends a random string,
#    which its own model then refuses before any request (tests/it/extensions.rs covers them).
CONFIG_TEMPLATE = """\
# Written by conformance/run.py for one suite run.
listen = "127.0.0.1:{port}"
public_url = "https://127.0.0.1:{port}"
data_dir = "{data_dir}"

[tls]
mode = "self-signed"

[roles]
default = []
unknown_user_type = "default"
unknown_role = "accept"

[log]
level = "info"

[[schemas.extensions]]
id = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
name = "Acme user"

[[schemas.extensions.attributes]]
name = "badgeNumber"
description = "The number printed on the badge"

[[schemas.extensions.attributes]]
name = "contractor"
type = "boolean"

[[schemas.extensions.attributes]]
name = "floor"
type = "integer"

[[schemas.extensions.attributes]]
name = "homePage"
type = "reference"

[[schemas.extensions.attributes]]
name = "skills"
multi_valued = true

[[schemas.extensions.attributes]]
name = "desk"
type = "complex"

[[schemas.extensions.attributes.sub_attributes]]
name = "building"

[[schemas.extensions.attributes.sub_attributes]]
name = "number"
type = "integer"
"""

SERVER_START_TIMEOUT = 30.0
SERVER_STOP_TIMEOUT = 30.0
SUITE_TIMEOUT = 600


class HarnessError(Exception):
    """The harness itself could not do its job (server would not start, suite missing, ...)."""


# ---- results ------------------------------------------------------------------------------


@dataclass
class Result:
    check: str
    status: str
    message: str
    passed: bool


@dataclass
class Deviation:
    suite: str
    check: str
    status: str
    message: str
    rfc: str
    reason: str
    matched: int = 0


@dataclass
class SuiteReport:
    suite: str
    version: str
    results: list[Result] = field(default_factory=list)
    harness_errors: list[str] = field(default_factory=list)
    work_dirs: list[Path] = field(default_factory=list)


def load_deviations(path: Path) -> list[Deviation]:
    with path.open("rb") as f:
        data = tomllib.load(f)
    out = []
    for i, d in enumerate(data.get("deviation", []), 1):
        missing = [k for k in ("suite", "check", "status", "message", "rfc", "reason") if not d.get(k)]
        if missing:
            raise HarnessError(f"{path}: deviation #{i} lacks {', '.join(missing)}")
        if d["suite"] not in SUITES:
            raise HarnessError(f"{path}: deviation #{i}: unknown suite {d['suite']!r}")
        out.append(Deviation(**{k: d[k] for k in ("suite", "check", "status", "message", "rfc", "reason")}))
    return out


# ---- one scimd server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A scimd with its own data directory, config and token, serving on a free port."""

    def __init__(self, binary: Path, work: Path):
        self.binary = binary
        self.work = work
        self.data_dir = work / "data"
        self.config = work / "config.toml"
        self.log_path = work / "scimd.log"
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.token = ""

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/scim/v2"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "tls" / "cert.pem"

    def _write_config(self) -> None:
        self.port = free_port()
        self.config.write_text(CONFIG_TEMPLATE.format(port=self.port, data_dir=self.data_dir))

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        out = subprocess.run(
            [str(self.binary), "--config", str(self.config), "token", "create", "--name", "conformance"],
            capture_output=True, text=True, timeout=60,
        )
        if out.returncode != 0 or not out.stdout.strip():
            raise HarnessError(
                f"`scimd token create` failed (exit {out.returncode}):\n{out.stderr.strip()}"
            )
        self.token = out.stdout.strip().splitlines()[-1].strip()
        if not self.token.startswith("scimd_"):
            raise HarnessError(f"`scimd token create` printed no token on its last line: {self.token!r}")

        # The port was free a moment ago; another process may take it first. Try a few ports.
        for attempt in range(3):
            if attempt:
                self._write_config()
            if self._serve():
                return
        raise HarnessError(f"scimd did not start; its log:\n{self.log_tail()}")

    def _serve(self) -> bool:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(self.binary), "--config", str(self.config), "serve"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.ca_file.exists() and self._healthy():
                return True
            time.sleep(0.1)
        self.proc.kill()
        self.proc.wait()
        raise HarnessError(f"scimd did not answer /healthz within {SERVER_START_TIMEOUT:.0f}s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            ctx = ssl.create_default_context(cafile=str(self.ca_file))
            url = f"https://127.0.0.1:{self.port}/healthz"
            with urllib.request.urlopen(url, context=ctx, timeout=2) as r:
                return r.status == 200
        except (OSError, ssl.SSLError, urllib.error.URLError):
            return False

    def stop(self) -> str | None:
        """SIGTERM and wait; returns a problem to report, or None."""
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            return None if code is None else f"scimd had already exited with status {code}"
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return f"scimd did not stop within {SERVER_STOP_TIMEOUT:.0f}s of SIGTERM; killed"
        if code != 0:
            return f"scimd exited with status {code} after SIGTERM"
        return None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join("    " + line for line in text[-lines:])


# ---- the suites ---------------------------------------------------------------------------


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        raise HarnessError(
            f"{name} is not installed in {sys.prefix}; run scripts/test, or "
            f"`.venv/bin/pip install -r conformance/requirements.txt` and use .venv/bin/python"
        ) from None


def run_scim2_tester(server: Server, http_log: Path | None) -> list[Result]:
    """scim2-tester's check_server() over HTTPS, with scimd's certificate as the only CA."""
    import httpx2
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import Status, check_server

    passing = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
    hooks = {}
    log = None
    if http_log is not None:
        log = http_log.open("a")

        def record(response):
            response.read()
            req = response.request
            log.write(
                f">>> {req.method} {req.url}\n{req.content.decode(errors='replace')}\n"
                f"<<< {response.status_code} {response.headers.get('content-type', '')}\n"
                f"{response.text}\n\n"
            )

        hooks = {"response": [record]}

    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    http = httpx2.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {server.token}"},
        verify=ctx,
        timeout=30,
        event_hooks=hooks,
    )
    try:
        checks = check_server(SyncSCIMClient(http))
    finally:
        http.close()
        if log is not None:
            log.close()

    results = []
    for r in checks:
        name = f"{r.resource_type}/{r.title}" if r.resource_type else str(r.title)
        if isinstance(r.data, dict) and r.data.get("urn"):
            name += f" {r.data['urn']}"
        results.append(Result(name, r.status.name, (r.reason or "").strip(), r.status in passing))
    return results


_RESOURCE_ID = re.compile(r"^(\w+ /\w+/)(?!\{id\})[^/\s]+$")


def run_scim_sanity(server: Server) -> list[Result]:
    """`scim-sanity probe` (strict mode) with --json-output, scimd's certificate as CA bundle."""
    cmd = [
        sys.executable, "-m", "scim_sanity", "probe", server.base_url,
        "--token", server.token,
        "--ca-bundle", str(server.ca_file),
        "--i-accept-side-effects",
        "--json-output",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=SUITE_TIMEOUT, stdin=subprocess.DEVNULL)
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise HarnessError(
            f"scim-sanity printed no JSON report (exit {out.returncode}):\n"
            f"{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        ) from None
    results = []
    for r in report.get("results", []):
        # Cleanup checks carry the resource id in their name; make the name stable.
        name = _RESOURCE_ID.sub(r"\1{id}", r.get("name", "?"))
        status = r.get("status", "?")
        results.append(Result(name, status, (r.get("message") or "").strip(), status == "pass"))
    # The exit code must agree with the report (1 when any fail/error).
    bad = any(r.status in ("fail", "error") for r in results)
    if out.returncode != (1 if bad else 0):
        raise HarnessError(f"scim-sanity exited {out.returncode} but its report says failures={bad}")
    return results


def run_suite(suite: str, binary: Path, keep: bool, http_log: Path | None) -> SuiteReport:
    dist = {"scim2-tester": "scim2-tester", "scim-sanity": "scim-sanity"}[suite]
    report = SuiteReport(suite, package_version(dist))
    work = Path(tempfile.mkdtemp(prefix=f"scimd-conformance-{suite}-"))
    report.work_dirs.append(work)
    server = Server(binary, work)
    try:
        server.start()
        if suite == "scim2-tester":
            report.results = run_scim2_tester(server, http_log)
        else:
            report.results = run_scim_sanity(server)
    except HarnessError as e:
        report.harness_errors.append(str(e))
    except Exception as e:  # a crash inside a suite is a failure to report, not a traceback
        import traceback

        report.harness_errors.append(f"{suite} crashed: {e!r}\n{traceback.format_exc()}")
    finally:
        problem = server.stop()
        if problem:
            report.harness_errors.append(f"{problem}; its log:\n{server.log_tail()}")
    if not keep and not report.harness_errors:
        shutil.rmtree(work, ignore_errors=True)
        report.work_dirs.clear()
    return report


# ---- judging and printing -----------------------------------------------------------------


def judge(report: SuiteReport, deviations: list[Deviation]) -> tuple[list[Result], list[tuple[Result, Deviation]], list[str]]:
    """Split the results that did not pass into failures and accepted deviations."""
    failures: list[Result] = []
    accepted: list[tuple[Result, Deviation]] = []
    problems = list(report.harness_errors)
    mine = [d for d in deviations if d.suite == report.suite]
    for r in report.results:
        if r.passed:
            continue
        dev = next(
            (d for d in mine if d.check == r.check and d.status == r.status and d.message in r.message),
            None,
        )
        if dev is None:
            failures.append(r)
        else:
            dev.matched += 1
            accepted.append((r, dev))
    if not report.harness_errors:
        passed = sum(r.passed for r in report.results)
        if passed == 0:
            problems.append(f"{report.suite}: no check passed; the suite did not really run")
        if len(report.results) < MIN_RESULTS[report.suite]:
            problems.append(
                f"{report.suite}: only {len(report.results)} results, expected at least "
                f"{MIN_RESULTS[report.suite]}; the suite did not really run"
            )
        for d in mine:
            if d.matched == 0:
                names = [r for r in report.results if r.check == d.check]
                now = ", ".join(f"{r.status}: {r.message or '-'}" for r in names) or "no such check"
                problems.append(
                    f"{report.suite}: listed deviation '{d.check}' ({d.status}, '{d.message}') did not "
                    f"happen (now: {now}); update conformance/deviations.toml"
                )
    return failures, accepted, problems


def indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in text.splitlines()) if text else prefix + "-"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scimd", type=Path, help="path to the scimd binary (a release build)")
    ap.add_argument("--suite", choices=SUITES, action="append", help="run only this suite (repeatable)")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every check, not only the ones that did not pass")
    ap.add_argument("--keep", action="store_true", help="keep each suite's temporary data directory")
    ap.add_argument("--http-log", type=Path, help="append scim2-tester's requests and responses to this file")
    ap.add_argument("--deviations", type=Path, default=DEVIATIONS_FILE, help="deviation list (default: %(default)s)")
    args = ap.parse_args()

    binary = args.scimd.resolve()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        print(f"run.py: {args.scimd} is not an executable scimd binary (build it: cargo build --release --locked)", file=sys.stderr)
        return 2
    try:
        deviations = load_deviations(args.deviations)
        for suite in args.suite or SUITES:
            package_version(suite)
    except HarnessError as e:
        print(f"run.py: {e}", file=sys.stderr)
        return 2

    suites = args.suite or list(SUITES)
    total_pass = total_fail = total_dev = 0
    for suite in suites:
        t0 = time.monotonic()
        report = run_suite(suite, binary, args.keep, args.http_log)
        failures, accepted, problems = judge(report, deviations)
        secs = time.monotonic() - t0
        passed = sum(r.passed for r in report.results)
        counts = Counter(r.status for r in report.results)

        print(f"\n== {suite} {report.version}  ({secs:.1f}s)")
        print(f"   {len(report.results)} results ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})")
        if args.verbose:
            for r in report.results:
                print(f"   {'ok  ' if r.passed else '--  '}{r.status:<8} {r.check}" + (f"  [{r.message.splitlines()[0][:160]}]" if r.message else ""))
        for r, d in accepted:
            print(f"   DEVIATION {r.status} {r.check}\n{indent(r.message)}\n      accepted: {d.rfc} (conformance/deviations.toml)")
        for r in failures:
            print(f"   FAILED    {r.status} {r.check}\n{indent(r.message)}")
        for p in problems:
            print(f"   PROBLEM   {indent(p, '             ').lstrip()}")
        if report.work_dirs:
            print(f"   data kept in {', '.join(map(str, report.work_dirs))} (config.toml, scimd.log, data/)")
        n_fail = len(failures) + len(problems)
        ok = "OK" if n_fail == 0 else "FAILED"
        print(f"   {suite}: {passed} passed, {len(failures)} failed, {len(accepted)} deviations"
              + (f", {len(problems)} other problems" if problems else "") + f"  -> {ok}")
        total_pass += passed
        total_fail += n_fail
        total_dev += len(accepted)

    print(f"\nconformance deviations accepted: {total_dev} (listed in conformance/deviations.toml)")
    print(f"conformance: {total_pass} passed, {total_fail} failed")
    return 0 if total_fail == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
