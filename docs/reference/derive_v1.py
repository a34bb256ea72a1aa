#!/usr/bin/env python3
"""Reference implementation of the otpknock v1 knock derivation (docs/spec.md).

Written from the specification alone, with Python's standard library, as a
second implementation: it recomputes every vector of a vector file and exits
non-zero on any difference.

    python3 docs/reference/derive_v1.py testdata/derive_v1.json
"""
import hashlib
import hmac
import ipaddress
import json
import struct
import sys

LABEL = b"otpknock/v1"
MASK = {"tcp": 1, "udp": 2, "icmp": 4}
ORDER = ["tcp", "udp", "icmp"]


def lp(field: bytes) -> bytes:
    return struct.pack(">H", len(field)) + field


def encode_source(src: str) -> bytes:
    if not src:
        return b""
    addr = ipaddress.ip_address(src)
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.packed


def message(i, step, secret_params):
    server_id, params, source = secret_params
    return (struct.pack(">I", i) + lp(LABEL) + struct.pack(">Q", step)
            + lp(server_id.encode()) + lp(params) + lp(source))


def derive(v):
    lo, hi = (int(x) for x in v["knock_range"].split("-"))
    excl = sorted({e for e in v["exclude"] if lo <= e <= hi})
    mask = 0
    for p in v["protocols"]:
        mask |= MASK[p]
    params = struct.pack(">IBBHHH", v["period"], v["knocks"], mask, lo, hi, len(excl))
    params += b"".join(struct.pack(">H", e) for e in excl)
    step = int(v["step"])
    if v.get("unix_time") is not None:
        step = max(v["unix_time"], 0) // v["period"]
    fields = (v["server_id"], params, encode_source(v["source"]))
    protos = [p for p in ORDER if p in v["protocols"]]
    values = [x for x in range(lo, hi + 1) if x not in excl]
    n = len(protos) * len(values)
    limit = (2**32 // n) * n
    key = bytes.fromhex(v["secret_hex"])
    picked = []
    for i in range(1, 256):
        block = hmac.new(key, message(i, step, fields), hashlib.sha256).digest()
        for (x,) in struct.iter_unpack(">I", block):
            if x >= limit:
                continue
            e = x % n
            if e in picked:
                continue
            picked.append(e)
            if len(picked) == v["knocks"]:
                seq = ["%s/%d" % (protos[e // len(values)], values[e % len(values)]) for e in picked]
                return step, message(1, step, fields).hex(), seq
    raise RuntimeError("stream exhausted")


def main(path):
    vectors = json.load(open(path))["vectors"]
    bad = 0
    for v in vectors:
        step, msg, seq = derive(v)
        got = (str(step), msg, seq)
        want = (v["step"], v["message_1_hex"], v["sequence"])
        if got != want:
            bad += 1
            print("MISMATCH %s:\n  want %s\n  got  %s" % (v["name"], want, got))
    print("%d vectors, %d mismatches" % (len(vectors), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "testdata/derive_v1.json"))
