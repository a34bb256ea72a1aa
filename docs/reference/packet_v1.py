#!/usr/bin/env python3
"""Reference implementation of otpknock's packet knocks (docs/spec.md,
"Packet knocks").

Written from the specification, with Python's standard library only, as a
second implementation: for every vector it derives the element, seals the
claim, checks the payload byte for byte, opens it again and checks the
server's verdict on the tampered payloads. Exits non-zero on any difference.

    python3 docs/reference/packet_v1.py testdata/packet_v1.json
"""
import hashlib
import hmac
import ipaddress
import json
import struct
import sys

PORT_LABEL = b"otpknock/v1/packet-port"
ENC_LABEL = b"otpknock/v1/packet-enc"
TAG_LABEL = b"otpknock/v1/packet-tag"
MASK = {"tcp": 1, "udp": 2, "icmp": 4}
ORDER = ["tcp", "udp", "icmp"]
NONCE, TAG, MIN_PAYLOAD, MAX_PAYLOAD = 16, 16, 33, 256


def lp(field: bytes) -> bytes:
    return struct.pack(">H", len(field)) + field


def packed(addr: str) -> bytes:
    if not addr:
        return b""
    a = ipaddress.ip_address(addr)
    if a.version == 6 and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    return a.packed


class Key:
    def __init__(self, v):
        lo, hi = (int(x) for x in v["knock_range"].split("-"))
        self.excl = sorted({e for e in v["exclude"] if lo <= e <= hi})
        mask = sum(MASK[p] for p in set(v["protocols"]))
        self.params = struct.pack(">IBBHHH", v["period"], v["knocks"], mask, lo, hi, len(self.excl))
        self.params += b"".join(struct.pack(">H", e) for e in self.excl)
        self.lo, self.hi = lo, hi
        self.protos = [p for p in ORDER if p in v["protocols"] and p != "tcp"]
        self.secret = bytes.fromhex(v["secret_hex"])
        self.server_id = v["server_id"].encode()

    def prefix(self, counter: int, label: bytes, step: int) -> bytes:
        return (struct.pack(">I", counter) + lp(label) + struct.pack(">Q", step)
                + lp(self.server_id) + lp(self.params))

    def mac(self, msg: bytes) -> bytes:
        return hmac.new(self.secret, msg, hashlib.sha256).digest()

    def element(self, step: int):
        values = [x for x in range(self.lo, self.hi + 1) if x not in self.excl]
        n = len(self.protos) * len(values)
        limit = (2**32 // n) * n
        for i in range(1, 256):
            block = self.mac(self.prefix(i, PORT_LABEL, step) + lp(b""))
            for w in range(0, 32, 4):
                x = struct.unpack(">I", block[w:w + 4])[0]
                if x < limit:
                    e = x % n
                    return self.protos[e // len(values)], values[e % len(values)]
        raise ValueError("HMAC stream exhausted")

    def enc_message(self, i: int, step: int, nonce: bytes) -> bytes:
        return self.prefix(i, ENC_LABEL, step) + lp(nonce)

    def tag_message(self, step, element, nonce, body, bound) -> bytes:
        proto, value = element
        return (self.prefix(0, TAG_LABEL, step) + struct.pack(">BH", MASK[proto], value)
                + lp(nonce) + lp(body) + lp(packed(bound)))

    def keystream(self, step: int, nonce: bytes, n: int) -> bytes:
        out = b""
        i = 1
        while len(out) < n:
            out += self.mac(self.enc_message(i, step, nonce))
            i += 1
        return out[:n]

    def tag(self, step, element, nonce, body, bound) -> bytes:
        return self.mac(self.tag_message(step, element, nonce, body, bound))[:TAG]


def claim_bytes(addrs, source, size):
    out = bytes([len(addrs) | (0x08 if source else 0)])
    for a in addrs:
        p = packed(a)
        out += bytes([4 if len(p) == 4 else 6]) + p
    return out + bytes(size - NONCE - TAG - len(out))


def open_payload(key, step, element, payload, bound):
    """The server's side: returns (error, claim)."""
    if not MIN_PAYLOAD <= len(payload) <= MAX_PAYLOAD:
        return "size", None
    nonce, body, tag = payload[:NONCE], payload[NONCE:-TAG], payload[-TAG:]
    if not hmac.compare_digest(key.tag(step, element, nonce, body, bound), tag):
        return "tag", None
    pt = bytes(a ^ b for a, b in zip(body, key.keystream(step, nonce, len(body))))
    flags, n, off, addrs = pt[0], pt[0] & 7, 1, []
    if flags & ~0x0F or n > 4:
        return "claim", None
    for _ in range(n):
        if off >= len(pt) or pt[off] not in (4, 6):
            return "claim", None
        width = 4 if pt[off] == 4 else 16
        if off + 1 + width > len(pt):
            return "claim", None
        a = ipaddress.ip_address(pt[off + 1:off + 1 + width])
        if a.version == 6 and a.ipv4_mapped is not None:
            return "claim", None
        addrs.append(str(a))
        off += 1 + width
    if any(pt[off:]):
        return "claim", None
    return "", (addrs, bool(flags & 0x08))


def check(v):
    key = Key(v)
    step = int(v["step"])
    errors = []
    if key.prefix(1, PORT_LABEL, step).hex() + lp(b"").hex() != v["port_message_1_hex"]:
        errors.append("port message 1")
    if key.mac(key.prefix(1, PORT_LABEL, step) + lp(b"")).hex() != v["port_block_1_hex"]:
        errors.append("port block 1")
    element = key.element(step)
    if f"{element[0]}/{element[1]}" != v["element"]:
        errors.append(f"element {element[0]}/{element[1]} != {v['element']}")
    nonce = bytes.fromhex(v["nonce_hex"])
    pt = claim_bytes(v["claim_addrs"], v["claim_source"], v["size"])
    if pt.hex() != v["plaintext_hex"]:
        errors.append("plaintext")
    stream = key.keystream(step, nonce, len(pt))
    if key.enc_message(1, step, nonce).hex() != v["enc_message_1_hex"]:
        errors.append("keystream message 1")
    if stream.hex() != v["keystream_hex"]:
        errors.append("keystream")
    body = bytes(a ^ b for a, b in zip(pt, stream))
    if key.tag_message(step, element, nonce, body, v["bound_source"]).hex() != v["tag_message_hex"]:
        errors.append("tag message")
    tag = key.tag(step, element, nonce, body, v["bound_source"])
    if tag.hex() != v["tag_hex"]:
        errors.append("tag")
    payload = nonce + body + tag
    if payload.hex() != v["payload_hex"]:
        errors.append("payload")
    err, claim = open_payload(key, step, element, payload, v["bound_source"])
    want = ([str(ipaddress.ip_address(a)) for a in v["claim_addrs"]], v["claim_source"])
    if err or claim != want:
        errors.append(f"open: {err} {claim}")
    if v.get("open_hex"):
        err, _ = open_payload(key, step, element, bytes.fromhex(v["open_hex"]), v["bound_source"])
        if err != v["open_error"] or not err:
            errors.append(f"tampered payload: {err!r}, want {v['open_error']!r}")
    return errors


def main(path):
    with open(path) as f:
        doc = json.load(f)
    vectors, bad = doc["vectors"], 0
    if doc.get("version") != 1:  # the protocol version (spec section 9.5)
        bad += 1
        print(f"FAIL {path}: version {doc.get('version')}, this reference implements 1")
    for v in vectors:
        errs = check(v)
        if errs:
            bad += 1
            print(f"FAIL {v['name']}: {'; '.join(errs)}")
    print(f"{len(vectors) - bad}/{len(vectors)} packet vectors match {path}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
