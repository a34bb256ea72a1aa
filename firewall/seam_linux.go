package firewall

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/coreos/go-iptables/iptables"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/errno"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// iptTables is the real tables: go-iptables, with a missing chain in
// List reported as os.ErrNotExist, and ListTable, which go-iptables
// lacks, run directly with the same binary.
type iptTables struct {
	*iptables.IPTables
	path string // iptables or ip6tables
}

// newTables finds iptables or ip6tables.
func newTables(v6 bool) (iptTables, error) {
	proto := iptables.ProtocolIPv4
	if v6 {
		proto = iptables.ProtocolIPv6
	}
	t, err := iptables.NewWithProtocol(proto)
	if err != nil {
		return iptTables{}, fmt.Errorf("%s: %w (install the iptables package)", ipt(v6), err)
	}
	path, err := exec.LookPath(ipt(v6))
	if err != nil {
		return iptTables{}, fmt.Errorf("%s: %w (install the iptables package)", ipt(v6), err)
	}
	return iptTables{t, path}, nil
}

// ListTable runs iptables --wait -t table -S.
func (t iptTables) ListTable(table string) ([]string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(t.path, "--wait", "-t", table, "-S")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s -t %s -S: %w: %s", t.path, table, err, strings.TrimSpace(stderr.String()))
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"), nil
}

// List returns iptables -S of the chain. Like go-iptables' ChainExists,
// it takes exit status 1 for a missing chain: iptables-nft 1.8.9 says a
// deleted chain "is incompatible".
func (t iptTables) List(table, chain string) ([]string, error) {
	out, err := t.IPTables.List(table, chain)
	var e *iptables.Error
	if errors.As(err, &e) && (e.IsNotExist() || e.ExitStatus() == 1) {
		return nil, fmt.Errorf("listing %s: %w (%w)", chain, os.ErrNotExist, err)
	}
	return out, err
}

// netlinkSets is the real sets: ipset over one netfilter netlink socket.
type netlinkSets struct{ h *netlink.Handle }

func newNetlinkSets() (netlinkSets, error) {
	h, err := netlink.NewHandle(unix.NETLINK_NETFILTER)
	if err != nil {
		return netlinkSets{}, setErr("opening a netfilter netlink socket", err)
	}
	return netlinkSets{h}, nil
}

func setErr(what string, err error) error {
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("%s: %w (%w)", what, os.ErrExist, err)
	}
	return errno.Wrap(what, err, "needs root or CAP_NET_ADMIN")
}

// Create makes the set with a default timeout in seconds.
func (s netlinkSets) Create(name, typ string, v6 bool, timeout time.Duration) error {
	secs := uint32(timeout / time.Second)
	fam := uint8(unix.AF_INET)
	if v6 {
		fam = unix.AF_INET6
	}
	err := s.h.IpsetCreate(name, typ, netlink.IpsetCreateOptions{Timeout: &secs, Family: fam})
	return setErr("creating ipset "+name, err)
}

// Add adds or replaces the entry.
func (s netlinkSets) Add(name string, e setEntry) error {
	secs := uint32(e.Timeout / time.Second)
	ne := &netlink.IPSetEntry{IP: e.Addr.Unmap().AsSlice(), Timeout: &secs, Replace: true}
	if e.Svc.Port != 0 {
		port, proto := e.Svc.Port, uint8(unix.IPPROTO_TCP)
		if e.Svc.Proto == derive.UDP {
			proto = unix.IPPROTO_UDP
		}
		ne.Port, ne.Protocol = &port, &proto
	}
	return setErr(fmt.Sprintf("adding %v %v to set %q", e.Addr.Unmap(), e.Svc, name), s.h.IpsetAdd(name, ne))
}

// List returns the set's entries with the time they have left.
func (s netlinkSets) List(name string) ([]setEntry, error) {
	res, err := s.h.IpsetList(name)
	if err != nil {
		return nil, setErr("listing ipset "+name, err)
	}
	var out []setEntry
	for _, e := range res.Entries {
		var se setEntry
		se.Addr, _ = netip.AddrFromSlice(e.IP)
		se.Addr = se.Addr.Unmap()
		if e.Port != nil {
			se.Svc = derive.Knock{Proto: derive.TCP, Port: *e.Port}
			if e.Protocol != nil && *e.Protocol == unix.IPPROTO_UDP {
				se.Svc.Proto = derive.UDP
			}
		}
		if e.Timeout != nil {
			se.Timeout = time.Duration(*e.Timeout) * time.Second
		}
		out = append(out, se)
	}
	return out, nil
}

// Destroy deletes the set.
func (s netlinkSets) Destroy(name string) error {
	return setErr("destroying ipset "+name, s.h.IpsetDestroy(name))
}

// Names lists every set.
func (s netlinkSets) Names() ([]string, error) {
	all, err := s.h.IpsetListAll()
	if err != nil {
		return nil, setErr("listing ipsets", err)
	}
	out := make([]string, len(all))
	for i, r := range all {
		out[i] = r.SetName
	}
	return out, nil
}
