#!/usr/bin/env python3
"""Reference implementation of otpknock's packet knocks (docs/spec.md,
"Packet knocks").

Written from the specification, with Python's standard library only, as a
second implementation: for every vector it derives the element, seals the
claim, checks the payload byte for byte, opens it again and checks the
server's verdict on the tampered payloads. Exits non-zero on any difference.

    python3 docs/reference/packet_v1.py testdata/packet_v1.json
"""
import hmac
import ipaddress
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import NONCE, StreamKey, check_file, claim_bytes, lp, parse_claim, xor  # noqa: E402

PORT_LABEL = b"otpknock/v1/packet-port"
ENC_LABEL = b"otpknock/v1/packet-enc"
TAG_LABEL = b"otpknock/v1/packet-tag"
TAG, MIN_PAYLOAD, MAX_PAYLOAD = 16, 33, 256


class Key(StreamKey):
    def __init__(self, v):
        super().__init__(v, bytes.fromhex(v["secret_hex"]))

    def element(self, step: int):
        return super().element(step, PORT_LABEL)

    def enc_message(self, i: int, step: int, nonce: bytes) -> bytes:
        return self.prefix(i, ENC_LABEL, step) + lp(nonce)

    def tag_message(self, step, element, nonce, body, bound) -> bytes:
        return self.prefix(0, TAG_LABEL, step) + self.tail(element, nonce, body, bound)

    def keystream(self, step: int, nonce: bytes, n: int) -> bytes:
        return super().keystream(step, nonce, n, ENC_LABEL)

    def tag(self, step, element, nonce, body, bound) -> bytes:
        return self.mac(self.tag_message(step, element, nonce, body, bound))[:TAG]


def open_payload(key, step, element, payload, bound):
    """The server's side: returns (error, claim)."""
    if not MIN_PAYLOAD <= len(payload) <= MAX_PAYLOAD:
        return "size", None
    nonce, body, tag = payload[:NONCE], payload[NONCE:-TAG], payload[-TAG:]
    if not hmac.compare_digest(key.tag(step, element, nonce, body, bound), tag):
        return "tag", None
    claim = parse_claim(xor(body, key.keystream(step, nonce, len(body))))
    return ("claim", None) if claim is None else ("", claim)


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
    pt = claim_bytes(v["claim_addrs"], v["claim_source"], v["size"] - NONCE - TAG)
    if pt.hex() != v["plaintext_hex"]:
        errors.append("plaintext")
    stream = key.keystream(step, nonce, len(pt))
    if key.enc_message(1, step, nonce).hex() != v["enc_message_1_hex"]:
        errors.append("keystream message 1")
    if stream.hex() != v["keystream_hex"]:
        errors.append("keystream")
    body = xor(pt, stream)
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
    return check_file(path, lambda doc: [(v["name"], check, v) for v in doc["vectors"]],
                      lambda doc: "packet vectors")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
