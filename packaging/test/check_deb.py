#!/usr/bin/env python3
"""Checks the contents of a built scimd .deb without installing it.

Called by scripts/test-deb after `cargo deb`. It reads the package with dpkg-deb (the file
list and the control archive as tar streams, and an unpacked copy with -x/-e) and checks:
every path in the package with its type, mode and owner (root:root), and nothing else; that
the packaged files are the repository's (binary from target/release by its GNU build-id,
unit, config, docs, man page, changelog, copyright, lintian overrides); the control fields;
the conffiles list; the maintainer scripts (present, 0755, `sh -n` clean, no leftover
debhelper token, and no start of the service on install); that the packaged binary runs and
accepts the packaged config. Prints one line per check and `N passed, N failed` at the end;
exits 1 if any check failed.

Usage: check_deb.py DEB
"""

import gzip
import io
import os
import re
import stat
import subprocess
import sys
import tarfile
import tempfile
import tomllib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Every path the package holds: (type, mode). All owned by root:root.
DIR = "dir"
FILE = "file"
EXPECTED_FILES = {
    "etc/": (DIR, 0o755),
    "etc/scimd/": (DIR, 0o755),
    "etc/scimd/config.toml": (FILE, 0o640),
    "usr/": (DIR, 0o755),
    "usr/bin/": (DIR, 0o755),
    "usr/bin/scimd": (FILE, 0o755),
    "usr/lib/": (DIR, 0o755),
    "usr/lib/systemd/": (DIR, 0o755),
    "usr/lib/systemd/system/": (DIR, 0o755),
    "usr/lib/systemd/system/scimd.service": (FILE, 0o644),
    "usr/share/": (DIR, 0o755),
    "usr/share/doc/": (DIR, 0o755),
    "usr/share/doc/scimd/": (DIR, 0o755),
    "usr/share/doc/scimd/README.md": (FILE, 0o644),
    "usr/share/doc/scimd/changelog.Debian.gz": (FILE, 0o644),
    "usr/share/doc/scimd/config.example.toml": (FILE, 0o644),
    "usr/share/doc/scimd/copyright": (FILE, 0o644),
    "usr/share/lintian/": (DIR, 0o755),
    "usr/share/lintian/overrides/": (DIR, 0o755),
    "usr/share/lintian/overrides/scimd": (FILE, 0o644),
    "usr/share/man/": (DIR, 0o755),
    "usr/share/man/man8/": (DIR, 0o755),
    "usr/share/man/man8/scimd.8.gz": (FILE, 0o644),
}

# Installed files that must equal a repository file byte for byte (gz: after gunzip).
SAME_AS_REPO = {
    "etc/scimd/config.toml": "packaging/debian/config.toml",
    "usr/lib/systemd/system/scimd.service": "packaging/scimd.service",
    "usr/share/doc/scimd/README.md": "README.md",
    "usr/share/doc/scimd/changelog.Debian.gz": "packaging/debian/changelog",
    "usr/share/doc/scimd/config.example.toml": "config.example.toml",
    "usr/share/doc/scimd/copyright": "packaging/debian/copyright",
    "usr/share/lintian/overrides/scimd": "packaging/debian/lintian-overrides",
    "usr/share/man/man8/scimd.8.gz": "packaging/debian/scimd.8",
}

# The control archive: name -> mode. Maintainer scripts are executable.
EXPECTED_CONTROL = {
    "control": 0o644,
    "conffiles": 0o644,
    "postinst": 0o755,
    "prerm": 0o755,
    "postrm": 0o755,
}
SCRIPTS = ("postinst", "prerm", "postrm")


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print(f"  ok    {what}")
        else:
            self.failed += 1
            print(f"  FAIL  {what}" + (f"\n        {detail}" if detail else ""))
        return ok

    def equal(self, actual, expected, what):
        return self.check(actual == expected, what, f"expected {expected!r}, got {actual!r}")


def run(*args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, **kwargs).stdout


def tar_members(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {normalise(m.name, m.isdir()): m for m in tar.getmembers()}


def normalise(name, is_dir):
    name = name.removeprefix("./").rstrip("/")
    return name + "/" if is_dir else name


def kind(member):
    if member.isdir():
        return DIR
    if member.isfile():
        return FILE
    return "symlink" if member.issym() else f"tar type {member.type!r}"


def build_id(path):
    """The GNU build-id of an ELF file, from `readelf -n`."""
    out = run("readelf", "-n", path).decode()
    match = re.search(r"Build ID:\s*([0-9a-f]+)", out)
    return match.group(1) if match else None


def control_fields(text):
    fields, key = {}, None
    for line in text.splitlines():
        if line.startswith((" ", "\t")) and key:
            fields[key] += "\n" + line
        elif ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    return fields


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    deb = sys.argv[1]
    c = Checks()

    with open(os.path.join(REPO, "Cargo.toml"), "rb") as f:
        cargo = tomllib.load(f)
    version = cargo["package"]["version"]
    arch = run("dpkg", "--print-architecture").decode().strip()

    print("-- package files (path, type, mode, owner)")
    files = tar_members(run("dpkg-deb", "--fsys-tarfile", deb))
    files.pop("/", None)  # the archive's root entry "./", when present
    c.equal(sorted(files), sorted(EXPECTED_FILES), "the package holds exactly the expected paths")
    for path, (want_kind, want_mode) in sorted(EXPECTED_FILES.items()):
        m = files.get(path)
        if m is None:
            continue
        got = (kind(m), oct(stat.S_IMODE(m.mode)), m.uid, m.gid, m.uname or "root", m.gname or "root")
        want = (want_kind, oct(want_mode), 0, 0, "root", "root")
        c.equal(got, want, f"/{path} {want_kind} {oct(want_mode)[2:]} root:root")

    with tempfile.TemporaryDirectory() as tmp:
        root, ctl = os.path.join(tmp, "root"), os.path.join(tmp, "DEBIAN")
        run("dpkg-deb", "-x", deb, root)
        run("dpkg-deb", "-e", deb, ctl)

        print("-- package contents")
        for path, source in sorted(SAME_AS_REPO.items()):
            with open(os.path.join(root, path), "rb") as f:
                data = f.read()
            if path.endswith(".gz"):
                data = gzip.decompress(data)
            with open(os.path.join(REPO, source), "rb") as f:
                c.check(data == f.read(), f"/{path} is {source}")
        binary = os.path.join(root, "usr/bin/scimd")
        built = os.path.join(REPO, "target/release/scimd")
        c.check(
            build_id(binary) is not None and build_id(binary) == build_id(built),
            "/usr/bin/scimd is target/release/scimd (same GNU build-id)",
            f"{build_id(binary)} vs {build_id(built)}",
        )
        sections = run("readelf", "-S", "-W", binary).decode()
        c.check(".debug_line" not in sections, "/usr/bin/scimd is stripped (symbols are in the -dbgsym .ddeb)")
        out = subprocess.run([binary, "--version"], capture_output=True, text=True)
        c.equal(out.stdout.strip(), f"scimd {version}", "/usr/bin/scimd runs and prints its version")
        # The hand-written man page names every command `scimd --help` lists.
        out = subprocess.run([binary, "--help"], capture_output=True, text=True)
        listed = re.search(r"Commands:\n((?:  \S.*\n)+)", out.stdout)
        commands = [line.split()[0] for line in listed.group(1).splitlines()] if listed else []
        man = gzip.decompress(open(os.path.join(root, "usr/share/man/man8/scimd.8.gz"), "rb").read()).decode()
        missing = [cmd for cmd in commands if cmd != "help" and cmd.replace("-", "\\-") not in man]
        c.check(commands and not missing, "scimd.8 documents every command of `scimd --help`",
                f"missing: {missing}")
        config = os.path.join(root, "etc/scimd/config.toml")
        out = subprocess.run([binary, "--config", config, "check-config"], capture_output=True, text=True)
        c.check(out.returncode == 0 and "config OK" in out.stderr,
                "the packaged config passes `scimd check-config`", out.stderr.strip())
        with open(config, "rb") as f:
            packaged = tomllib.load(f)
        c.equal(packaged.get("data_dir"), "/var/lib/scimd", "the packaged config keeps data in /var/lib/scimd")
        with open(os.path.join(root, "usr/lib/systemd/system/scimd.service")) as f:
            unit = f.read()
        c.check(
            "\nExecStartPre=/usr/bin/scimd --config /etc/scimd/config.toml check-config\n" in unit,
            "the unit checks the config before it starts (ExecStartPre=… check-config)",
        )
        changelog = gzip.decompress(open(os.path.join(root, "usr/share/doc/scimd/changelog.Debian.gz"), "rb").read())
        top = re.match(rb"scimd \(([^)]+)\)", changelog)
        newest = top.group(1).decode() if top else None
        c.check(newest == f"{version}-1", f"the changelog's newest entry is {version}-1",
                f"it is {newest}: add an entry for {version}-1 to packaging/debian/changelog")

        print("-- control archive")
        control = tar_members(run("dpkg-deb", "--ctrl-tarfile", deb))
        control.pop("/", None)
        c.equal(sorted(control), sorted(EXPECTED_CONTROL), "the control archive holds exactly the expected members")
        for name, mode in sorted(EXPECTED_CONTROL.items()):
            m = control.get(name)
            if m is not None:
                got = (kind(m), oct(stat.S_IMODE(m.mode)), m.uid, m.gid)
                c.equal(got, (FILE, oct(mode), 0, 0), f"{name} {oct(mode)[2:]} root:root")

        fields = control_fields(open(os.path.join(ctl, "control")).read())
        c.equal(fields.get("Package"), "scimd", "Package: scimd")
        c.equal(fields.get("Version"), f"{version}-1", f"Version: {version}-1 (Cargo.toml's version)")
        c.equal(fields.get("Architecture"), arch, f"Architecture: {arch}")
        c.equal(fields.get("Section"), "net", "Section: net")
        c.equal(fields.get("Priority"), "optional", "Priority: optional")
        c.check(re.fullmatch(r".+ <[^@\s]+@[^@\s]+>", fields.get("Maintainer", "")) is not None,
                "Maintainer: a name and an address", fields.get("Maintainer"))
        depends = [d.strip().split(" ")[0] for d in fields.get("Depends", "").split(",")]
        c.check("adduser" in depends and "libc6" in depends,
                "Depends: adduser (the postinst uses it) and libc6 (from the binary)", fields.get("Depends"))
        c.check(fields.get("Installed-Size", "").isdigit(), "Installed-Size is set")
        c.check(fields.get("Description", "").startswith("Self-hosted SCIM 2.0 server")
                and "\n" in fields.get("Description", ""), "Description: a synopsis and an extended text")
        conffiles = open(os.path.join(ctl, "conffiles")).read().split()
        c.equal(conffiles, ["/etc/scimd/config.toml"], "conffiles: /etc/scimd/config.toml only")

        print("-- maintainer scripts")
        for name in SCRIPTS:
            path = os.path.join(ctl, name)
            text = open(path).read()
            c.check(os.access(path, os.X_OK), f"{name} is executable")
            c.check(text.startswith("#!/bin/sh\n"), f"{name} starts with #!/bin/sh")
            c.check("\nset -e\n" in text, f"{name} runs with set -e")
            c.check("#DEBHELPER#" not in text, f"{name} has no debhelper token left")
            syntax = subprocess.run(["sh", "-n", path], capture_output=True, text=True)
            c.check(syntax.returncode == 0, f"`sh -n {name}` passes", syntax.stderr.strip())
        postinst = open(os.path.join(ctl, "postinst")).read()
        for needle in ("adduser --system", "dpkg-statoverride", "install -d -o scimd -g scimd -m 0750"):
            c.check(needle in postinst, f"postinst runs `{needle}`")
        c.check("deb-systemd-invoke try-restart scimd.service" in postinst,
                "postinst restarts the service on upgrade only if it runs (try-restart)")
        c.check(not re.search(r"deb-systemd-invoke (\$_dh_action|start|restart) ", postinst),
                "postinst never starts the service")
        postrm = open(os.path.join(ctl, "postrm")).read()
        c.check('rm -rf "$DATA"' in postrm and re.search(r'if \[ "\$1" = purge \]', postrm),
                "postrm deletes /var/lib/scimd on purge only")

    print(f"deb contents: {c.passed} passed, {c.failed} failed")
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
