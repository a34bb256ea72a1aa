"""Helpers the packet references share (docs/spec.md section 11): the
length-prefixed fields, addresses as the messages carry them, the HMAC
stream of a key (its message prefix, the element it draws, the
keystream), the claim, and the loop over a vector file.

Imported by packet_v1.py, packet_ed25519_v1.py and fleet_v1.py, which
sit beside it: each still runs on its own from any directory
(python3 docs/reference/packet_v1.py testdata/packet_v1.json).
"""
import hashlib
import hmac
import ipaddress
import json
import struct

MASK = {"tcp": 1, "udp": 2, "icmp": 4}
ORDER = ["tcp", "udp", "icmp"]
NONCE = 16


def lp(field: bytes) -> bytes:
    return struct.pack(">H", len(field)) + field


def packed(addr: str) -> bytes:
    if not addr:
        return b""
    a = ipaddress.ip_address(addr)
    if a.version == 6 and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    return a.packed


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b))


class StreamKey:
    """A key's HMAC-SHA256 stream over the vector's parameters: secret is
    the HMAC key (a packet user's secret, an Ed25519 user's locator)."""

    def __init__(self, v, secret: bytes):
        lo, hi = (int(x) for x in v["knock_range"].split("-"))
        self.excl = sorted({e for e in v["exclude"] if lo <= e <= hi})
        mask = sum(MASK[p] for p in set(v["protocols"]))
        self.params = struct.pack(">IBBHHH", v["period"], v["knocks"], mask, lo, hi, len(self.excl))
        self.params += b"".join(struct.pack(">H", e) for e in self.excl)
        self.lo, self.hi = lo, hi
        self.protos = [p for p in ORDER if p in v["protocols"] and p != "tcp"]
        self.secret = secret
        self.server_id = v["server_id"].encode()

    def prefix(self, counter: int, label: bytes, step: int) -> bytes:
        return (struct.pack(">I", counter) + lp(label) + struct.pack(">Q", step)
                + lp(self.server_id) + lp(self.params))

    def mac(self, msg: bytes) -> bytes:
        return hmac.new(self.secret, msg, hashlib.sha256).digest()

    def element(self, step: int, label: bytes):
        """The element the port stream of label draws at step."""
        values = [x for x in range(self.lo, self.hi + 1) if x not in self.excl]
        n = len(self.protos) * len(values)
        limit = (2**32 // n) * n
        for i in range(1, 256):
            block = self.mac(self.prefix(i, label, step) + lp(b""))
            for w in range(0, 32, 4):
                x = struct.unpack(">I", block[w:w + 4])[0]
                if x < limit:
                    e = x % n
                    return self.protos[e // len(values)], values[e % len(values)]
        raise ValueError("HMAC stream exhausted")

    def keystream(self, step: int, nonce: bytes, n: int, label: bytes) -> bytes:
        out, i = b"", 1
        while len(out) < n:
            out += self.mac(self.prefix(i, label, step) + lp(nonce))
            i += 1
        return out[:n]

    @staticmethod
    def tail(element, nonce, body, bound) -> bytes:
        """The end of a tag, check or signed message: element, nonce,
        body and bound source."""
        proto, value = element
        return struct.pack(">BH", MASK[proto], value) + lp(nonce) + lp(body) + lp(packed(bound))


def claim_bytes(addrs, source, n):
    """A claim of addrs (and the source flag) in n bytes."""
    out = bytes([len(addrs) | (0x08 if source else 0)])
    for a in addrs:
        p = packed(a)
        out += bytes([4 if len(p) == 4 else 6]) + p
    return out + bytes(n - len(out))


def parse_claim(pt):
    """(addresses, source flag) of a canonical claim, else None."""
    flags, n, off, addrs = pt[0], pt[0] & 7, 1, []
    if flags & ~0x0F or n > 4:
        return None
    for _ in range(n):
        if off >= len(pt) or pt[off] not in (4, 6):
            return None
        width = 4 if pt[off] == 4 else 16
        if off + 1 + width > len(pt):
            return None
        a = ipaddress.ip_address(pt[off + 1:off + 1 + width])
        if a.version == 6 and a.ipv4_mapped is not None:
            return None
        addrs.append(str(a))
        off += 1 + width
    if any(pt[off:]):
        return None
    return addrs, bool(flags & 0x08)


def check_file(path, items, what):
    """Reads the vector file at path, checks its version, runs every
    (name, check, vector) items(doc) returns and prints a summary naming
    what was checked (what(doc)). Returns the exit status."""
    with open(path) as f:
        doc = json.load(f)
    bad = 0
    if doc.get("version") != 1:  # the protocol version (spec section 9.5)
        bad += 1
        print(f"FAIL {path}: version {doc.get('version')}, this reference implements 1")
    todo = items(doc)
    for name, check, v in todo:
        errs = check(v)
        if errs:
            bad += 1
            print(f"FAIL {name}: {'; '.join(errs)}")
    print(f"{len(todo) - bad}/{len(todo)} {what(doc)} match {path}")
    return 1 if bad else 0
