#!/usr/bin/env python3
"""Reference implementation of the otpknock v1 knock derivation (docs/spec.md).

Written from the specification alone, with Python's standard library, as a
second implementation: it recomputes every vector of a vector file and exits
non-zero on any difference. It reads derivation vectors (every intermediate
value: time, step, message, blocks, draws, limit, sequence) and error
vectors (parameter sets that must be refused, with the error's category).

    python3 docs/reference/derive_v1.py testdata/derive_v1.json testdata/derive_v1_errors.json
    python3 docs/reference/derive_v1.py --blocks    # the figures of spec section 5.3
"""
import decimal
import hashlib
import hmac
import ipaddress
import json
import math
import re
import struct
import sys
from fractions import Fraction

VERSION = 1  # the protocol version of this page (spec section 9.5) and of the vector files
LABEL = b"otpknock/v1"
BOUND_LABEL = b"otpknock/v1/bound"  # the bound stream of source-bound users (section 6.1)
MASK = {"tcp": 1, "udp": 2, "icmp": 4}
ORDER = ["tcp", "udp", "icmp"]
MAX_BLOCKS = 255
MAX_EXCLUDED = 32761  # 12 + 2 * 32761 = 65534 bytes, the largest lp(params)
MIN_BITS = 48


class Refused(Exception):
    """A parameter set or input the specification refuses; args[0] is the category."""


def lp(field: bytes) -> bytes:
    if len(field) > 0xFFFF:
        raise Refused("exclude")
    return struct.pack(">H", len(field)) + field


def exact_time(unix_time):
    """unix_time as an exact number: a decimal string (the format now), or
    the int or decimal.Decimal a JSON number token parsed to (older files)."""
    if isinstance(unix_time, str):
        if not re.fullmatch(r"-?[0-9]+(\.[0-9]{1,9})?", unix_time):
            raise ValueError("unix_time %r: not an exact decimal" % unix_time)
        return decimal.Decimal(unix_time)
    return unix_time


def step_of(unix_time, period):
    """Spec section 2: exact floor, 0 before 1970, refused from 2^63 s."""
    t = math.floor(exact_time(unix_time))  # never a binary float
    if t >= 2**63:
        raise Refused("time")
    return max(t, 0) // period


def encode_source(src: str) -> bytes:
    """Spec section 4: no source, 4 bytes (IPv4, IPv4-mapped) or 16 bytes."""
    if not src:
        return b""
    addr = ipaddress.ip_address(src.split("%", 1)[0])  # a zone is dropped
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.packed


def excluded_ports(v):
    ports = list(v.get("exclude", []))
    for r in v.get("exclude_ranges", []):
        a, b = (int(x) for x in r.split("-"))
        ports.extend(range(a, b + 1))
    return ports


class Params:
    """Validated parameters (spec sections 1, 3 and 7)."""

    def __init__(self, v):
        self.period, self.knocks = v["period"], v["knocks"]
        self.secret = bytes.fromhex(v["secret_hex"])
        self.server_id = v["server_id"].encode("utf-8")
        if len(self.secret) < 16:
            raise Refused("secret")
        if not 1 <= len(self.server_id) <= 255:
            raise Refused("server_id")
        if not 1 <= self.period <= 3600:
            raise Refused("period")
        if not 1 <= self.knocks <= 16:
            raise Refused("knocks")
        names = v["protocols"]
        if not names or len(set(names)) != len(names) or any(p not in MASK for p in names):
            raise Refused("protocols")
        m = re.fullmatch(r"([0-9]{1,5})-([0-9]{1,5})", v["knock_range"])
        if not m:
            raise Refused("knock_range")
        self.lo, self.hi = int(m[1]), int(m[2])
        if not 1 <= self.lo <= self.hi <= 65535:
            raise Refused("knock_range")
        self.excl = sorted({e for e in excluded_ports(v) if self.lo <= e <= self.hi})
        if len(self.excl) > MAX_EXCLUDED:
            raise Refused("exclude")
        self.mask = 0
        for p in names:
            self.mask |= MASK[p]
        self.protos = [p for p in ORDER if p in names]
        excl = set(self.excl)
        self.values = [x for x in range(self.lo, self.hi + 1) if x not in excl]
        self.n = len(self.protos) * len(self.values)
        if self.n < self.knocks:
            raise Refused("elements")
        if sequences(self.n, self.knocks) < 2**MIN_BITS:  # exact, no logarithm
            raise Refused("weak")
        self.limit = (2**32 // self.n) * self.n
        self.params = struct.pack(">IBBHHH", self.period, self.knocks, self.mask,
                                  self.lo, self.hi, len(self.excl))
        self.params += b"".join(struct.pack(">H", e) for e in self.excl)

    def message(self, i, step, source, label=LABEL):
        return (struct.pack(">I", i) + lp(label) + struct.pack(">Q", step)
                + lp(self.server_id) + lp(self.params) + lp(source))

    def knock(self, e):
        return "%s/%d" % (self.protos[e // len(self.values)], self.values[e % len(self.values)])

    def derive(self, step, source):
        """Spec sections 5, 6 and 6.1, with the traces the vectors record: the
        unbound stream's (up to the first knock for a source-bound user) and
        the bound stream's (None when not bound)."""
        if not source:
            blocks, draws, picked = self.stream(step, b"", LABEL, [], self.knocks)
            return blocks, draws, None, [self.knock(e) for e in picked]
        blocks, draws, picked = self.stream(step, b"", LABEL, [], 1)
        bound = self.stream(step, source, BOUND_LABEL, picked, self.knocks)
        return blocks, draws, bound, [self.knock(e) for e in bound[2]]

    def stream(self, step, source, label, picked, want):
        """Draw from the stream of label until picked holds want elements."""
        picked, blocks, draws = list(picked), [], []
        for i in range(1, MAX_BLOCKS + 1):
            block = hmac.new(self.secret, self.message(i, step, source, label), hashlib.sha256).digest()
            blocks.append(block.hex())
            for (x,) in struct.iter_unpack(">I", block):
                if x >= self.limit:
                    draws.append({"x": x, "outcome": "rejected"})
                    continue
                e = x % self.n
                if e in picked:
                    draws.append({"x": x, "element": e, "outcome": "duplicate"})
                    continue
                picked.append(e)
                draws.append({"x": x, "element": e, "outcome": "knock"})
                if len(picked) == want:
                    return blocks, draws, picked
        raise Refused("exhausted")


def sequences(n, k):
    """The number of ordered sequences of k distinct elements of n."""
    out = 1
    for i in range(k):
        out *= n - i
    return out


def derive_vector(v):
    p = Params(v)
    step = int(v["step"])
    if "unix_time" in v:
        step = step_of(v["unix_time"], p.period)
    source = encode_source(v["source"])
    blocks, draws, bound, seq = p.derive(step, source)
    out = {"step": str(step), "message_1_hex": p.message(1, step, b"").hex(),
           "elements": p.n, "limit": p.limit, "blocks_hex": blocks, "draws": draws,
           "sequence": seq}
    if bound is not None:
        out["bound_message_1_hex"] = p.message(1, step, source, BOUND_LABEL).hex()
        out["bound_blocks_hex"], out["bound_draws"] = bound[0], bound[1]
    return out


def check_derive(v):
    got = derive_vector(v)
    keys = set(got) | {k for k in v if k.startswith("bound_")}
    return {k: (v.get(k), got.get(k)) for k in keys if v.get(k) != got.get(k)}


def check_error(v):
    try:
        derive_vector(dict(v, step="0", source=""))
    except Refused as e:
        got = e.args[0]
    else:
        got = None
    return {} if got == v["error"] else {"error": (v["error"], got)}


def check_file(path):
    with open(path) as f:
        doc = json.load(f, parse_float=decimal.Decimal)
    bad = 0
    if doc.get("version") != VERSION:
        bad += 1
        print("MISMATCH %s: version %s, this reference implements %d" % (path, doc.get("version"), VERSION))
    for v in doc["vectors"]:
        diff = check_error(v) if "error" in v else check_derive(v)
        if diff:
            bad += 1
            print("MISMATCH %s: %s" % (v["name"], "; ".join(
                "%s: want %s, got %s" % (k, w, g) for k, (w, g) in sorted(diff.items()))))
    print("%s: %d vectors, %d mismatches" % (path, len(doc["vectors"]), bad))
    return bad


def more_blocks(n, k, blocks):
    """P(a sequence needs more than `blocks` blocks), exactly (a Fraction)."""
    reject = Fraction(2**32 - (2**32 // n) * n, 2**32)
    dist = {0: Fraction(1)}  # distinct elements picked -> probability
    for _ in range(8 * blocks):
        nxt = {}
        for j, pr in dist.items():
            if j == k:
                nxt[j] = nxt.get(j, 0) + pr
                continue
            stay = reject + (1 - reject) * Fraction(j, n)
            nxt[j] = nxt.get(j, 0) + pr * stay
            nxt[j + 1] = nxt.get(j + 1, 0) + pr * (1 - stay)
        dist = nxt
    return 1 - dist.get(k, 0)


def print_blocks():
    rows = [("defaults", 80000, 4), ("defaults, 8 knocks", 80000, 8),
            ("defaults, 9 knocks", 80000, 9), ("defaults, 16 knocks", 80000, 16),
            ("1-65535, 3 protocols, 3 knocks", 196605, 3),
            ("288 elements, 8 knocks (vector)", 288, 8),
            ("smallest valid: 17 elements, 16 knocks", 17, 16)]
    print("| parameters | N | knocks | P(> 1 block) | P(> 2 blocks) |")
    print("|---|---|---|---|---|")
    for name, n, k in rows:
        print("| %s | %d | %d | %.3g | %.3g |" % (name, n, k, float(more_blocks(n, k, 1)),
                                                float(more_blocks(n, k, 2))))
    bound = 17 * 16 // 2 * Fraction(15, 17) ** (8 * MAX_BLOCKS)
    print("P(> 255 blocks) for 17 elements and 16 knocks < 2^%.0f" % math.log2(bound))


def main(args):
    if args == ["--blocks"]:
        print_blocks()
        return 0
    bad = sum(check_file(p) for p in (args or ["testdata/derive_v1.json"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
