package firewall

import (
	"io"
	"net"
	"testing"

	"github.com/otpknock/otpknock/internal/netnstest"
)

// iptablesIn opens the iptables backend in the pair's server namespace
// and installs plan.
func iptablesIn(t testing.TB, p *netnstest.Pair, plan Plan) *IPTables {
	t.Helper()
	var k *IPTables
	var err error
	p.Do(t, p.Server, func() {
		if k, err = NewIPTables(); err == nil {
			err = k.Setup(plan)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// nftIn opens the nftables backend in the pair's server namespace and
// installs plan.
func nftIn(t testing.TB, p *netnstest.Pair, plan Plan) *NFT {
	t.Helper()
	var n *NFT
	var err error
	p.Do(t, p.Server, func() {
		if n, err = NewNFT(); err == nil {
			err = n.Setup(plan)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Echo echoes each connection's bytes back.
func Echo(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}
