#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target into fuzz/corpus/<target>/.

The seeds are the RFC 7644 examples (filters, PATCH paths and bodies) and the literal payloads
of Entra ID and Okta quoted in idp-behaviour.md (the research note kept beside the design
notes; pass its path). They are small by design: the fuzzer grows its own corpus from them
in a scratch directory, never in the repository. Run it again after changing this file:

    python3 fuzz/seeds.py PATH/TO/idp-behaviour.md
"""

import hashlib
import json
import pathlib
import re
import sys
import urllib.parse

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# RFC 7644 §3.4.2.2 and the filters Entra and Okta send.
RFC_FILTERS = [
    'userName Eq "john"',
    'Username eq "john"',
    'userName eq "bjensen"',
    'name.familyName co "O\'Malley"',
    'userName sw "J"',
    f'{USER_URN}:userName sw "J"',
    "title pr",
    'meta.lastModified gt "2011-05-13T04:42:34Z"',
    'meta.lastModified ge "2011-05-13T04:42:34Z"',
    'meta.lastModified lt "2011-05-13T04:42:34Z"',
    'meta.lastModified le "2011-05-13T04:42:34Z"',
    'title pr and userType eq "Employee"',
    'title pr or userType eq "Intern"',
    'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"',
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    'userType eq "Employee" and (emails.type eq "work")',
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
    'emails[type eq "work" and value co "@example.com"] or '
    'ims[type eq "xmpp" and value co "@foo.com"]',
    'emails[type eq "work"].value eq "bjensen@example.com"',
    "externalId eq jyoung",
    'active eq "True"',
    "active eq true",
    f'{ENTERPRISE}:manager eq "26118915-6090-4610-87e4-49d8ca9f808d"',
    f"{ENTERPRISE}:employeeNumber eq 701984",
    'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
    'displayName eq "Tour Guides" and members.value eq "2819c223"',
    "meta.version eq null",
    'not title pr or nickName ne null and (a eq 1.5e3)',
]

RFC_PATHS = [
    "members",
    "name.familyName",
    'addresses[type eq "work"]',
    'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
    'members[value eq "2819c223-7f76-453a-919d-413861904646"].displayName',
    'emails[type eq "work" and value ew "example.com"]',
    'emails[type eq "work"].value',
    f"{ENTERPRISE}:manager",
    f"{ENTERPRISE}:manager.value",
    f"{USER_URN}:name.givenName",
    'phoneNumbers[type eq "mobile"].value',
    'addresses[type eq "work"].streetAddress',
    "userName, emails.value ,name.givenName",
    "$ref",
]

# A stored user and group for the PATCH target (canonical, as a POST leaves them).
STORED_USER = {
    "userName": "bjensen@example.com",
    "externalId": "701984",
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "displayName": "Babs Jensen",
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
    "title": "Tour Guide",
    "active": True,
    "roles": [{"value": "employee"}],
    ENTERPRISE: {"department": "Tour Operations", "manager": {"value": "26118915"}},
}
STORED_GROUP = {"displayName": "Tour Guides", "externalId": "g-1"}

RFC_PATCHES = [
    [{"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}],
                             "nickname": "Babs"}}],
    [{"op": "add", "path": "members", "value": [{"display": "Babs Jensen",
                                                  "value": "2819c223"}]}],
    [{"op": "remove", "path": 'members[value eq "2819c223"]'}],
    [{"op": "remove", "path": "members"}],
    [{"op": "remove", "path": 'emails[type eq "work" and value ew "example.com"]'}],
    [{"op": "replace", "path": 'addresses[type eq "work"]',
      "value": {"type": "work", "streetAddress": "911 Universal City Plaza", "primary": True}}],
    [{"op": "replace", "path": 'addresses[type eq "work"].streetAddress',
      "value": "1010 Broadway Ave"}],
    [{"op": "replace", "value": {"emails": [{"value": "bjensen@example.com", "type": "work",
                                             "primary": True}], "nickName": "Babs"}}],
    [{"op": "Replace", "path": "active", "value": "False"}],
    [{"op": "replace", "path": f"{ENTERPRISE}:manager", "value": "26118915"}],
    [{"op": "add", "path": 'emails[type eq "work"].value', "value": "new@example.com"}],
    [{"op": "remove", "path": "title"}, {"op": "add", "path": "title", "value": "Guide"}],
]


TARGETS = ("filter", "path", "canonicalize", "patch", "request_line")

# Byte streams for the request-line rewriter: raw quotes in targets, bodies that look like
# request lines (issue 13's desync), chunked bodies, framing it must not follow.
_BODY = b'{\nGET /' + b'"' * 4 + b' x\r\nGET /x HTTP/1.1\r\n\r\n'
REQUEST_STREAMS = [
    b'GET /scim/v2/Users?filter=externalId+eq+"9edf" HTTP/1.1\r\nHost: h\r\n\r\n',
    b'POST /scim/v2/Users HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n' % len(_BODY)
    + _BODY,
    b'POST /scim/v2/Users HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'
    b'7;ext=1\r\nGET /"x\r\n0\r\nX-Trailer: "y"\r\n\r\nGET /"z" HTTP/1.1\r\nHost: h\r\n\r\n',
    b'POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'
    b'0\r\n\r\nGET /"a" HTTP/1.1\r\n\r\n',
    b'POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabcGET /" HTTP/1.1\r\n\r\n',
    b'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nGET /"a" x\r\n',
    b'CONNECT h:443 HTTP/1.1\r\n\r\nGET /"a" HTTP/1.1\r\n\r\n',
    b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nGET /"x" HTTP/1.1\r\n\r\n',
    b'\r\n\r\nGET /a?b="c" HTTP/1.1\r\nHost: h\r\n\r\nDELETE /Users/"1" HTTP/1.1\r\n\r\n',
    b'GET /"a" HTTP/1.1\nHost: h\n\n',
    b'PATCH /Users/1 HTTP/1.1\r\nContent-Length: 5\r\n folded\r\n\r\nGET /"',
]


def http_start_line(block):
    """A fenced HTTP example as a request stream with CRLF line ends and an empty line."""
    lines = [l for l in block.strip().splitlines() if l.strip()]
    head = [l for l in lines if not l.lstrip().startswith(("{", "[", "}", "]", '"'))]
    return ("\r\n".join(head) + "\r\n\r\n").encode()


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    digest = hashlib.sha1(data).hexdigest()[:12]
    (d / f"{name}-{digest}").write_bytes(data)


def compact(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def json_blocks(md):
    """Every JSON value in a fenced block (after any HTTP start line and headers)."""
    out = []
    for block in re.findall(r"```\w*\n(.*?)```", md, re.S):
        starts = [i for i in (block.find("{"), block.find("[")) if i >= 0]
        if not starts:
            continue
        try:
            out.append(json.loads(block[min(starts):]))
        except ValueError:
            pass
    # Inline payloads in backticks, such as Entra's member removal.
    for inline in re.findall(r"`(\{[^`]*\})`", md):
        try:
            out.append(json.loads(inline))
        except ValueError:
            pass
    return out


def main():
    md = pathlib.Path(sys.argv[1]).read_text() if len(sys.argv) > 1 else ""
    for target in TARGETS:
        d = CORPUS / target
        if d.exists():
            for f in d.iterdir():
                f.unlink()

    filters = list(RFC_FILTERS)
    for q in re.findall(r"filter=([^ `&\n]+)", md):
        text = urllib.parse.unquote_plus(q)
        if " " in text and "…" not in text:
            filters.append(text)
    for i, f in enumerate(dict.fromkeys(filters)):
        write("filter", f"f{i:02}", f)
    # A few with a resource to evaluate on (NUL, selector, JSON).
    write("filter", "with-user", 'emails[type eq "work"].value ew "example.com"\0\0'
          + compact({"schemas": [USER_URN], **STORED_USER}))
    write("filter", "with-group", 'displayName sw "Tour"\0\1' + compact(STORED_GROUP))

    paths = list(RFC_PATHS)
    payloads = json_blocks(md)
    ops = []
    for v in payloads:
        if isinstance(v, dict) and "Operations" in v:
            ops.append(v)
        elif isinstance(v, dict) and "op" in v:
            ops.append({"schemas": [PATCH_OP], "Operations": [v]})
    for body in ops:
        for op in body.get("Operations", []):
            if isinstance(op, dict) and isinstance(op.get("path"), str):
                paths.append(op["path"])
    for i, p in enumerate(dict.fromkeys(paths)):
        write("path", f"p{i:02}", p)

    bodies = [v for v in payloads if isinstance(v, dict) and "Operations" not in v
              and ("userName" in v or "displayName" in v) and "Resources" not in v]
    for i, b in enumerate(bodies):
        selector = b"\0" if "userName" in b else b"\1"
        write("canonicalize", f"body{i:02}", selector + compact(b).encode())
    write("canonicalize", "rfc-user", b"\0" + compact({"schemas": [USER_URN, ENTERPRISE],
                                                     **STORED_USER}).encode())
    write("canonicalize", "rfc-group", b"\1" + compact({"schemas": [GROUP_URN],
                                                      **STORED_GROUP}).encode())

    patches = ops + [{"schemas": [PATCH_OP], "Operations": p} for p in RFC_PATCHES]
    for i, body in enumerate(patches):
        text = compact(body)
        is_group = "members" in text or "Group" in text
        stored = STORED_GROUP if is_group else STORED_USER
        selector = b"\1" if is_group else b"\0"
        write("patch", f"patch{i:02}", selector + compact([stored, body]).encode())
        write("canonicalize", f"patchop{i:02}", selector + text.encode())

    # The request-line rewriter: a cut byte (how reads are split), then a byte stream.
    streams = [http_start_line(b) for b in re.findall(r"```http\n(.*?)```", md, re.S)]
    streams += REQUEST_STREAMS
    for i, stream in enumerate(streams):
        write("request_line", f"r{i:02}", bytes([i % 16]) + stream)

    for target in TARGETS:
        print(f"{target}: {len(list((CORPUS / target).iterdir()))} seeds")


if __name__ == "__main__":
    main()
