#!/usr/bin/env python3
"""Reference reader of otpknock provisioning URIs (docs/spec.md section 9).

Written from the specification, with Python's standard library. For every
vector of testdata/uri_v1.json it checks the status against the grammar
(valid URIs match it, "outside" ones do not), reads the URI as section 9
says, and compares the account (or the error's field) and the sequence
the account derives (with derive_v1.py) at the vector's step.

    python3 docs/reference/uri_v1.py testdata/uri_v1.json
"""
import base64
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import derive_v1  # noqa: E402  (the derivation reference, beside this file)
import packet_v1  # noqa: E402  (the packet knock reference, beside this file)
import packet_ed25519_v1  # noqa: E402  (the Ed25519 packet knock reference, section 11.11)
from derive_v1 import Refused  # noqa: E402

SCHEME = "otpauth://"
FIELDS = ["otpknock", "secret", "server", "user", "host", "period", "knocks", "range",
          "protocols", "exclude", "open", "bind", "knock", "auth", "locator", "key"]
# Field categories of derive_v1's errors, as URI field names.
URI_FIELD = {"knock_range": "range", "server_id": "server"}

# The grammar (spec section 9.1), on the raw URI and on decoded values.
QCHAR = r"(?:[A-Za-z0-9\-._~!$'()*+,:@/?]|%[0-9A-Fa-f]{2})"
PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
FIELD = r"%s*=(?:%s|=)*" % (QCHAR, QCHAR)  # split at the first "="
RAW = re.compile(r"otpauth://totp/%s*\?(?:%s)?(?:&(?:%s)?)*" % (PCHAR, FIELD, FIELD))
# What a query may hold raw: qchars, "=", "&", and "%" (escapes are checked when decoding).
QUERY_BYTES = re.compile(r"[A-Za-z0-9\-._~!$'()*+,:@/?=&%]*")
PORT = r"[0-9]+"
VALUE = {
    "otpknock": r"[0-9]+",
    "secret": r"[A-Za-z2-7]+=*",
    "server": r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
    "user": r"[a-z0-9][a-z0-9._-]{0,31}",
    "host": r"[A-Za-z0-9.:_-]{0,253}",
    "period": r"[0-9]+",
    "knocks": r"[0-9]+",
    "range": PORT + "-" + PORT,
    "protocols": r"(?i:tcp|udp|icmp)(?:,(?i:tcp|udp|icmp))*",
    "exclude": r"(?:%s(?:,%s)*)?" % (PORT, PORT),
    "open": r"(?:(?i:tcp|udp)/%s(?:,(?i:tcp|udp)/%s)*)?" % (PORT, PORT),
    "bind": r"[02]?",
    "knock": r"(?i:sequence|packet)?",
    "auth": r"(?i:hmac|ed25519)?",
    "locator": r"[A-Za-z2-7]+=*",
    "key": r"[A-Za-z2-7]+=*",
}


def decode(s):
    """application/x-www-form-urlencoded: + is a space; a bad escape is refused."""
    if re.search(r"%(?![0-9A-Fa-f]{2})", s):
        raise Refused("uri")
    raw = bytearray()
    i = 0
    while i < len(s):
        if s[i] == "%":
            raw.append(int(s[i + 1:i + 3], 16))
            i += 3
        else:
            raw.extend(b" " if s[i] == "+" else s[i].encode())
            i += 1
    return raw.decode("utf-8", "surrogateescape")


def split_uri(uri):
    """The type and the decoded query fields; repeats of a field are refused."""
    s = uri.strip()  # outside the grammar; otpknock trims
    if not s.startswith(SCHEME):
        raise Refused("uri")
    s = s[len(SCHEME):].split("#", 1)[0]  # a fragment is outside the grammar; ignored
    head, _, query = s.partition("?")
    if head.split("/", 1)[0] != "totp":
        raise Refused("uri")
    if not QUERY_BYTES.fullmatch(query):  # a raw ";", space, non-ASCII, ...
        raise Refused("uri")
    fields = {}
    for pair in query.split("&"):
        if not pair:
            continue  # empty pairs carry nothing
        if "=" not in pair:
            raise Refused("uri")
        key, _, value = pair.partition("=")
        key, value = decode(key), decode(value)
        if key in fields and key in FIELDS:
            raise Refused(key)
        fields.setdefault(key, value)
    return {k: v for k, v in fields.items() if v != ""}  # empty is absent


def in_grammar(uri):
    """Whether the URI matches the grammar of section 9.1 exactly."""
    if not RAW.fullmatch(uri):
        return False
    try:
        fields = split_uri(uri)
    except Refused:
        return False
    for name, rule in VALUE.items():
        if name in fields and not re.fullmatch(rule, fields[name], re.S):
            return False
    return "secret" not in fields or canonical_base32(fields["secret"])


def canonical_base32(s):
    """The unused bits of the last character are zero."""
    s = s.rstrip("=").upper()
    bits = {2: 2, 4: 4, 5: 1, 7: 3}.get(len(s) % 8, 0)
    return not bits or ("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".index(s[-1]) & ((1 << bits) - 1)) == 0


def secret(s, field="secret"):
    s = re.sub(r"[ \t\r\n]", "", s)  # whitespace: outside the grammar, removed
    s = s.rstrip("=")
    # ASCII letters only: str.upper() maps some other letters to ASCII ones.
    if not re.fullmatch(r"[A-Za-z2-7]*", s) or len(s) % 8 in (1, 3, 6):
        raise Refused(field)
    s = s.upper()
    return base64.b32decode(s + "=" * (-len(s) % 8))


def number(s, field, signed=False, top=2**64):
    if not re.fullmatch(r"[+-]?[0-9]+" if signed else r"[0-9]+", s) or abs(int(s)) >= top:
        raise Refused(field)
    return int(s)


def port(s, field):
    n = number(s, field, top=65536)
    if n == 0:
        raise Refused(field)
    return n


def read(uri):
    """Section 9.2: the account of a URI, or Refused(field)."""
    f = split_uri(uri)
    version = f.get("otpknock")
    if version is None or number(version, "otpknock", signed=True) != 1:
        raise Refused("otpknock")
    for name in FIELDS:  # one rule for every field but the secret: no spaces
        if name != "secret" and re.search(r"\s", f.get(name, "")):
            raise Refused(name)
    for need in ("server", "user"):
        if need not in f:
            raise Refused(need)
    for name in ("server", "user", "host"):  # section 9.1: the server's own name rules
        if name in f and not re.fullmatch(VALUE[name], f[name]):
            raise Refused(name)
    auth, key, seed = credentials(f)
    if "knocks" not in f:
        raise Refused("knocks")
    if "range" not in f or "-" not in f["range"]:
        raise Refused("range")
    lo, _, hi = f["range"].partition("-")
    lo, hi = number(lo, "range", top=65536), number(hi, "range", top=65536)
    if "protocols" not in f:
        raise Refused("protocols")
    protos = [p.lower() for p in f["protocols"].split(",")]
    if any(p not in derive_v1.MASK for p in protos) or len(set(protos)) != len(protos):
        raise Refused("protocols")
    opens = []
    for item in f.get("open", "").split(",") if "open" in f else []:
        proto, slash, num = item.partition("/")
        if not slash or proto.lower() not in ("tcp", "udp"):
            raise Refused("open")
        service = "%s/%d" % (proto.lower(), port(num, "open"))
        if service in opens:
            raise Refused("open")
        opens.append(service)
    if f.get("bind", "0") not in ("0", "2"):  # 1: the rule before section 6.1's revision
        raise Refused("bind")
    knock = f.get("knock", "sequence").lower()
    if knock not in ("sequence", "packet"):
        raise Refused("knock")
    if knock == "packet" and not set(protos) & {"udp", "icmp"}:
        raise Refused("protocols")
    v = {"secret_hex": key.hex(), "server_id": f["server"],
         "period": number(f.get("period", "30"), "period", top=2**32),
         "knocks": number(f["knocks"], "knocks", signed=True, top=2**63),
         "protocols": protos, "knock_range": "%d-%d" % (lo, hi),
         "exclude": [port(e, "exclude") for e in f["exclude"].split(",")] if "exclude" in f else []}
    if lo < 1 or lo > hi:
        raise Refused("range")
    try:
        params = derive_v1.Params(v)
    except Refused as e:
        raise Refused(URI_FIELD.get(e.args[0], e.args[0]))
    account = {"server_id": f["server"], "user": f["user"], "host": f.get("host", ""),
               "secret_hex": key.hex(), "period": params.period, "knocks": params.knocks,
               "protocols": params.protos, "knock_range": v["knock_range"],
               "exclude": params.excl, "open": opens, "bind": f.get("bind") == "2", "knock": knock}
    if auth == "ed25519":
        account["auth"] = auth
        if seed is not None:
            account["private_seed_hex"] = seed.hex()
    return account, v


def credentials(f):
    """Sections 9.3 and 11.12: (auth, secret or locator, private seed or None)."""
    auth = f.get("auth", "hmac").lower()
    if auth not in ("hmac", "ed25519"):
        raise Refused("auth")
    if auth == "hmac":
        for name in ("locator", "key"):
            if name in f:
                raise Refused(name)
        if "secret" not in f:
            raise Refused("secret")
        return auth, secret(f["secret"]), None
    if f.get("knock", "sequence").lower() != "packet":
        raise Refused("auth")
    if "secret" in f:
        raise Refused("secret")
    if "locator" not in f:
        raise Refused("locator")
    locator = secret(f["locator"], "locator")
    if len(locator) < 16:
        raise Refused("locator")
    seed = None
    if "key" in f:
        seed = secret(f["key"], "key")
        if len(seed) != 32:
            raise Refused("key")
    return auth, locator, seed


def check(vec):
    """The differences between a vector and this reader, as messages."""
    bad = []
    grammar = in_grammar(vec["uri"])
    if vec["status"] == "valid" and not grammar:
        bad.append("status valid, but outside the grammar")
    if vec["status"] == "outside" and grammar:
        bad.append("status outside, but the grammar matches")
    try:
        account, v = read(vec["uri"])
    except Refused as e:
        if e.args[0] != vec.get("error"):
            bad.append("refused as %s, want %s" % (e.args[0], vec.get("error") or "accepted"))
        return bad
    if vec.get("error"):
        return bad + ["accepted, want a %s error" % vec["error"]]
    if account != vec["account"]:
        bad.append("account: want %s, got %s" % (vec["account"], account))
    if account["knock"] == "packet":
        # Section 11.1: one draw over udp and icmp, whatever the source.
        if account.get("auth") == "ed25519":  # section 11.11: the locator, its own label
            key = packet_ed25519_v1.Key(dict(v, locator_hex=v["secret_hex"], private_seed_hex="00" * 32))
        else:
            key = packet_v1.Key(v)
        proto, value = key.element(int(vec["step"]))
        if "%s/%d" % (proto, value) != vec.get("element") or "sequence" in vec:
            bad.append("element: want %s, got %s/%d" % (vec.get("element"), proto, value))
        return bad
    v.update(step=vec["step"], source=vec.get("source", "") if account["bind"] else "")
    seq = derive_v1.derive_vector(v)["sequence"]
    if seq != vec["sequence"]:
        bad.append("sequence: want %s, got %s" % (vec["sequence"], seq))
    return bad


def main(paths):
    failed = 0
    for path in paths or ["testdata/uri_v1.json"]:
        with open(path) as f:
            doc = json.load(f)
        vectors, bad = doc["vectors"], 0
        if doc.get("version") != derive_v1.VERSION:
            bad += 1
            print("MISMATCH %s: version %s, this reference implements %d" % (path, doc.get("version"), derive_v1.VERSION))
        for vec in vectors:
            msgs = check(vec)
            if msgs:
                bad += 1
                print("MISMATCH %s: %s" % (vec["name"], "; ".join(msgs)))
        print("%s: %d vectors, %d mismatches" % (path, len(vectors), bad))
        failed += bad
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
