#!/usr/bin/env python3
"""Reference fleet member keys (docs/spec.md section 14).

Written from the specification, with Python's standard library: HKDF
(RFC 5869) is two HMAC-SHA256 calls. For every vector of
testdata/fleet_v1.json it checks the identity taken from the name
knocked, the HKDF info, the pseudo-random key, the member key, the
sequence that key derives (with derive_v1.py) for that identity and, for
an ed25519 user's vector, the element that key derives as the member's
locator secret (with packet_ed25519_v1.py; section 14.5).

    python3 docs/reference/fleet_v1.py testdata/fleet_v1.json
"""
import hashlib
import hmac
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import derive_v1  # noqa: E402  (the derivation reference, beside this file)
import packet_ed25519_v1  # noqa: E402  (the ed25519 packet reference)
from common import check_file, lp  # noqa: E402

SALT = b"otpknock/v1/fleet"


def identity(host):
    """Section 14.2: the name knocked, lower case, no trailing dot."""
    host = host[:-1] if host.endswith(".") else host
    return host.lower()


def member_key(secret, fleet, ident):
    """Section 14.1: HKDF-SHA256, L = 32, so one expand block T(1)."""
    info = lp(fleet.encode()) + lp(ident.encode())
    prk = hmac.new(SALT, secret, hashlib.sha256).digest()
    okm = hmac.new(prk, info + b"\x01", hashlib.sha256).digest()
    return info, prk, okm


def check(v):
    ident = identity(v["host"])
    info, prk, key = member_key(bytes.fromhex(v["secret_hex"]), v["fleet"], ident)
    p = derive_v1.Params(dict(v, secret_hex=key.hex(), server_id=ident))
    _, _, _, seq = p.derive(int(v["step"]), b"")
    got = {"identity": ident, "info_hex": info.hex(), "prk_hex": prk.hex(),
           "member_key_hex": key.hex(), "sequence": seq}
    if "ed25519_element" in v:
        # The member key is the member's locator: the element it finds.
        loc = packet_ed25519_v1.Key(dict(v, locator_hex=key.hex(), server_id=ident,
                                         private_seed_hex="00" * 32))
        proto, value = loc.element(int(v["step"]))
        got["ed25519_element"] = f"{proto}/{value}"
    return [f"{k}: file {v[k]!r}, computed {g!r}" for k, g in got.items() if v[k] != g]


def main(path):
    return check_file(path, lambda doc: [(v["name"], check, v) for v in doc["vectors"]],
                      lambda doc: "fleet vectors")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
