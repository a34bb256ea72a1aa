#!/usr/bin/env python3
"""Reference implementation of otpknock's Ed25519 packet knocks
(docs/spec.md section 11.11).

Written from the specification, with Python's standard library only: the
Ed25519 below is the sample code of RFC 8032 section 6. For every vector
it checks RFC 8032's own test vectors, derives the element from the
locator secret, seals the claim, signs, checks the payload byte for byte,
opens it again and checks the server's verdict on the tampered payloads.
Exits non-zero on any difference.

    python3 docs/reference/packet_ed25519_v1.py testdata/packet_ed25519_v1.json
"""
import hashlib
import hmac
import ipaddress
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import NONCE, StreamKey, check_file, claim_bytes, lp, parse_claim, xor  # noqa: E402

PORT_LABEL = b"otpknock/v1/ed25519-port"
ENC_LABEL = b"otpknock/v1/ed25519-enc"
CHECK_LABEL = b"otpknock/v1/ed25519-check"
SIG_LABEL = b"otpknock/v1/ed25519-sig"
CHECK, SIG, MAX_PAYLOAD = 16, 64, 256
MIN_PAYLOAD = NONCE + 1 + SIG + CHECK

# --- Ed25519, RFC 8032 section 6 ----------------------------------------

P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def point_add(a, b):
    A, B = (a[1] - a[0]) * (b[1] - b[0]) % P, (a[1] + a[0]) * (b[1] + b[0]) % P
    C, Dd = 2 * a[3] * b[3] * D % P, 2 * a[2] * b[2] % P
    E, F, G, H = B - A, Dd - C, Dd + C, B + A
    return (E * F, G * H, F * G, E * H)


def point_mul(s, pt):
    r = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            r = point_add(r, pt)
        pt = point_add(pt, pt)
        s >>= 1
    return r


def point_equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 % P == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


GY = 4 * pow(5, P - 2, P) % P
GX = recover_x(GY, 0)
BASE = (GX, GY, 1, GX * GY % P)


def compress(pt):
    zinv = pow(pt[2], P - 2, P)
    x, y = pt[0] * zinv % P, pt[1] * zinv % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def decompress(s):
    y = int.from_bytes(s, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


def expand(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def hq(b):
    return int.from_bytes(hashlib.sha512(b).digest(), "little") % Q


def public_key(seed):
    return compress(point_mul(expand(seed)[0], BASE))


def sign(seed, msg):
    a, prefix = expand(seed)
    pub = compress(point_mul(a, BASE))
    r = hq(prefix + msg)
    rs = compress(point_mul(r, BASE))
    s = (r + hq(rs + pub + msg) * a) % Q
    return rs + s.to_bytes(32, "little")


def verify(pub, msg, sig):
    if len(pub) != 32 or len(sig) != 64:
        return False
    A, R = decompress(pub), decompress(sig[:32])
    if A is None or R is None:
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= Q:
        return False
    h = hq(sig[:32] + pub + msg)
    return point_equal(point_mul(s, BASE), point_add(R, point_mul(h, A)))


# --- the knock, spec section 11.11 ---------------------------------------


class Key(StreamKey):
    def __init__(self, v):
        super().__init__(v, bytes.fromhex(v["locator_hex"]))
        self.pub = public_key(bytes.fromhex(v["private_seed_hex"]))

    def element(self, step):
        return super().element(step, PORT_LABEL)

    def keystream(self, step, nonce, n):
        return super().keystream(step, nonce, n, ENC_LABEL)

    def sig_message(self, step, element, nonce, ct, bound):
        return self.prefix(0, SIG_LABEL, step) + self.tail(element, nonce, ct, bound)

    def check_message(self, step, element, nonce, body, bound):
        return self.prefix(0, CHECK_LABEL, step) + self.tail(element, nonce, body, bound)


def open_payload(key, step, element, payload, bound):
    """The server's side, in the order of section 11.11: (error, claim)."""
    if not MIN_PAYLOAD <= len(payload) <= MAX_PAYLOAD:
        return "size", None
    nonce, body, check = payload[:NONCE], payload[NONCE:-CHECK], payload[-CHECK:]
    want = key.mac(key.check_message(step, element, nonce, body, bound))[:CHECK]
    if not hmac.compare_digest(want, check):
        return "check", None
    pt = xor(body, key.keystream(step, nonce, len(body)))
    ct = body[:-SIG]
    if not verify(key.pub, key.sig_message(step, element, nonce, ct, bound), pt[-SIG:]):
        return "signature", None
    claim = parse_claim(pt[:-SIG])
    return ("claim", None) if claim is None else ("", claim)


def check_vector(v):
    key = Key(v)
    step = int(v["step"])
    errors = []
    if key.pub.hex() != v["public_key_hex"]:
        errors.append("public key")
    if (key.prefix(1, PORT_LABEL, step) + lp(b"")).hex() != v["port_message_1_hex"]:
        errors.append("port message 1")
    element = key.element(step)
    if f"{element[0]}/{element[1]}" != v["element"]:
        errors.append(f"element {element[0]}/{element[1]} != {v['element']}")
    nonce = bytes.fromhex(v["nonce_hex"])
    n = v["size"] - NONCE - SIG - CHECK
    pt = claim_bytes(v["claim_addrs"], v["claim_source"], n)
    if pt.hex() != v["claim_plaintext_hex"]:
        errors.append("claim plaintext")
    if (key.prefix(1, ENC_LABEL, step) + lp(nonce)).hex() != v["enc_message_1_hex"]:
        errors.append("keystream message 1")
    stream = key.keystream(step, nonce, n + SIG)
    if stream.hex() != v["keystream_hex"]:
        errors.append("keystream")
    ct = xor(pt, stream[:n])
    if ct.hex() != v["claim_ciphertext_hex"]:
        errors.append("claim ciphertext")
    bound = v["bound_source"]
    msg = key.sig_message(step, element, nonce, ct, bound)
    if msg.hex() != v["sig_message_hex"]:
        errors.append("signed message")
    sig = sign(bytes.fromhex(v["private_seed_hex"]), msg)
    if sig.hex() != v["signature_hex"]:
        errors.append("signature")
    body = ct + xor(sig, stream[n:])
    cm = key.check_message(step, element, nonce, body, bound)
    if cm.hex() != v["check_message_hex"]:
        errors.append("check message")
    check = key.mac(cm)[:CHECK]
    if check.hex() != v["check_hex"]:
        errors.append("check")
    payload = nonce + body + check
    if payload.hex() != v["payload_hex"]:
        errors.append("payload")
    err, claim = open_payload(key, step, element, payload, bound)
    want = ([str(ipaddress.ip_address(a)) for a in v["claim_addrs"]], v["claim_source"])
    if err or claim != want:
        errors.append(f"open: {err} {claim}")
    if v.get("open_hex"):
        src = v.get("open_source") or bound
        err, _ = open_payload(key, step, element, bytes.fromhex(v["open_hex"]), src)
        if err != v["open_error"] or not err:
            errors.append(f"tampered payload: {err!r}, want {v['open_error']!r}")
    return errors


def check_rfc8032(r):
    seed, msg = bytes.fromhex(r["secret_key_hex"]), bytes.fromhex(r["message_hex"])
    errors = []
    if public_key(seed).hex() != r["public_key_hex"]:
        errors.append("public key")
    sig = sign(seed, msg)
    if sig.hex() != r["signature_hex"]:
        errors.append("signature")
    if not verify(bytes.fromhex(r["public_key_hex"]), msg, sig):
        errors.append("verify")
    if verify(bytes.fromhex(r["public_key_hex"]), msg, bytes([sig[0] ^ 1]) + sig[1:]):
        errors.append("a flipped bit verifies")
    return errors


def main(path):
    def items(doc):
        return ([(r["name"], check_rfc8032, r) for r in doc["rfc8032"]]
                + [(v["name"], check_vector, v) for v in doc["vectors"]])
    return check_file(path, items, lambda doc: f"Ed25519 vectors ({len(doc['rfc8032'])} of RFC 8032)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
