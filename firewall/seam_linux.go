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

// iptTables is the real tables: go-iptables for -C, the iptables and
// iptables-restore binaries of the family for the listing and the
// batches, which go-iptables lacks.
type iptTables struct {
	*iptables.IPTables
	list, restore string // paths of iptables (or ip6tables) and its -restore
}

// newTables finds iptables or ip6tables and its -restore.
func newTables(v6 bool) (iptTables, error) {
	proto := iptables.ProtocolIPv4
	if v6 {
		proto = iptables.ProtocolIPv6
	}
	t, err := iptables.NewWithProtocol(proto)
	if err != nil {
		return iptTables{}, fmt.Errorf("%s: %w (install the iptables package)", ipt(v6), err)
	}
	list, err := exec.LookPath(ipt(v6))
	if err != nil {
		return iptTables{}, fmt.Errorf("%s: %w (install the iptables package)", ipt(v6), err)
	}
	restore, err := exec.LookPath(ipt(v6) + "-restore")
	if err != nil {
		return iptTables{}, fmt.Errorf("%s-restore: %w (install the iptables package)", ipt(v6), err)
	}
	return iptTables{t, list, restore}, nil
}

// ListTable runs iptables --wait -t table -S.
func (t iptTables) ListTable(table string) ([]string, error) {
	out, err := run(exec.Command(t.list, "--wait", "-t", table, "-S"), "")
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n"), nil
}

// Restore runs iptables-restore --noflush --wait with the lines.
func (t iptTables) Restore(table string, lines []string) error {
	in := "*" + table + "\n" + strings.Join(lines, "\n") + "\nCOMMIT\n"
	_, err := run(exec.Command(t.restore, "--noflush", "--wait"), in)
	return err
}

// run runs cmd with stdin and returns its output; its error carries
// the command and its stderr, with a permission problem as
// os.ErrPermission.
func run(cmd *exec.Cmd, stdin string) (string, error) {
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = strings.NewReader(stdin), &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "Permission denied") || strings.Contains(msg, "Operation not permitted") {
			err = fmt.Errorf("%w (%w)", os.ErrPermission, err)
		}
		return "", fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, msg)
	}
	return string(out), nil
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
	ne := ipsetEntry(e)
	ne.Timeout, ne.Replace = &secs, true
	return setErr(fmt.Sprintf("adding %s to set %q", entryText(e), name), s.h.IpsetAdd(name, ne))
}

// Del deletes the entry.
func (s netlinkSets) Del(name string, e setEntry) error {
	return setErr(fmt.Sprintf("deleting %s from set %q", entryText(e), name), s.h.IpsetDel(name, ipsetEntry(e)))
}

// ipsetEntry is e as netlink's entry, without a timeout.
func ipsetEntry(e setEntry) *netlink.IPSetEntry {
	ne := &netlink.IPSetEntry{IP: e.Addr.Unmap().AsSlice()}
	if e.Bits != 0 {
		ne.CIDR = uint8(e.Bits)
	}
	if e.Svc.Port != 0 {
		r, _ := e.Svc.Proto.Info()
		port, proto := e.Svc.Port, r.IP(e.Addr.Unmap().Is6())
		ne.Port, ne.Protocol = &port, &proto
	}
	return ne
}

// entryText names an entry in an error: the address or prefix, and the
// service when it has one.
func entryText(e setEntry) string {
	s := e.Addr.Unmap().String()
	if e.Bits != 0 {
		s = netip.PrefixFrom(e.Addr.Unmap(), e.Bits).String()
	}
	if e.Svc.Port != 0 {
		s += " " + e.Svc.String()
	}
	return s
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
			if e.Protocol != nil {
				if r, ok := derive.ProtoByIP(*e.Protocol, se.Addr.Is6()); ok {
					se.Svc.Proto = r.Proto
				}
			}
		}
		if e.CIDR != 0 {
			se.Bits = int(e.CIDR)
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
