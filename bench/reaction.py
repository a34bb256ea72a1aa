#!/usr/bin/env python3
"""Server reaction of a firewall-command knocker, seen from the kernel.

Runs in the server's namespace until SIGTERM, then prints the reactions in ms, one per line. A reaction runs from the last
packet the client (ADDR) sent to a port other than the service (PORT), as
timestamped by the kernel on IFACE, to the moment nftables announces a new
rule: the grant is in the kernel. knockd and fwknopd grant by running
iptables (nft backend), so every grant of theirs is such an event.

Usage: reaction.py IFACE ADDR PORT
"""
import select, signal, socket, struct, sys, time

iface, addr, port = sys.argv[1], socket.inet_aton(sys.argv[2]), int(sys.argv[3])
SO_TIMESTAMPNS, NETLINK_NETFILTER, NFNLGRP_NFTABLES = 35, 12, 7
NFT_MSG_NEWRULE = (10 << 8) | 6  # NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWRULE

pkt = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))  # from the IP header
pkt.bind((iface, 0))
pkt.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
nft = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
nft.bind((0, 1 << (NFNLGRP_NFTABLES - 1)))

last, out = None, []
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    while True:
        r, _, _ = select.select([pkt, nft], [], [])
        if nft in r:
            data = nft.recv(1 << 16)
            now = time.time()
            off = 0
            while off + 16 <= len(data):
                ln, typ = struct.unpack_from("=IH", data, off)
                if typ == NFT_MSG_NEWRULE and last is not None:
                    out.append((now - last) * 1000)
                    last = None  # one reaction per knock sequence
                off += max((ln + 3) & ~3, 16)
        if pkt in r:
            data, anc, _, _ = pkt.recvmsg(2048, 64)
            if len(data) < 24 or data[12:16] != addr:
                continue
            ihl = (data[0] & 15) * 4
            if data[9] in (6, 17) and struct.unpack_from("!H", data, ihl + 2)[0] == port:
                continue  # the client's probes of the service
            for lvl, typ, val in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                    s, ns = struct.unpack("=qq", val[:16])
                    last = s + ns / 1e9
finally:
    print("\n".join("%.3f" % x for x in out), flush=True)
