package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/coreos/go-iptables/iptables"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/errno"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Kernel is the Backend of the running system: iptables, ip6tables and
// ipset over netlink.
type Kernel struct {
	v4, v6 *iptables.IPTables
	nl     *netlink.Handle // one netfilter netlink socket for all grants
}

// NewKernel finds iptables and ip6tables.
func NewKernel() (*Kernel, error) {
	v4, err := iptables.NewWithProtocol(iptables.ProtocolIPv4)
	if err != nil {
		return nil, fmt.Errorf("iptables: %w (install the iptables package)", err)
	}
	v6, err := iptables.NewWithProtocol(iptables.ProtocolIPv6)
	if err != nil {
		return nil, fmt.Errorf("ip6tables: %w (install the iptables package)", err)
	}
	h, err := netlink.NewHandle(unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, setErr("opening a netfilter netlink socket", err)
	}
	return &Kernel{v4: v4, v6: v6, nl: h}, nil
}

func (k *Kernel) families() []struct {
	ipt *iptables.IPTables
	v6  bool
	set string
} {
	return []struct {
		ipt *iptables.IPTables
		v6  bool
		set string
	}{{k.v4, false, Set4}, {k.v6, true, Set6}}
}

// Setup installs sets, chain rules and the jump, idempotently.
func (k *Kernel) Setup(p Plan) error {
	if err := setupFilter(p); err != nil {
		return err
	}
	for _, f := range k.families() {
		if err := createSet(f.set, f.v6, p.Timeout); err != nil {
			return err
		}
		if err := k.syncChain(f.ipt, p.Rules(f.v6)); err != nil {
			return fmt.Errorf("%s: %w", ipt(f.v6), err)
		}
		if err := f.ipt.InsertUnique(Table, "INPUT", 1, jump()...); err != nil {
			return fmt.Errorf("%s: jumping to %s from INPUT: %w", ipt(f.v6), Chain, err)
		}
	}
	return nil
}

func ipt(v6 bool) string {
	if v6 {
		return "ip6tables"
	}
	return "iptables"
}

func createSet(name string, v6 bool, timeout time.Duration) error {
	secs := uint32(timeout / time.Second)
	fam := uint8(unix.AF_INET)
	if v6 {
		fam = unix.AF_INET6
	}
	err := netlink.IpsetCreate(name, "hash:ip,port", netlink.IpsetCreateOptions{Timeout: &secs, Family: fam})
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return setErr(fmt.Sprintf("creating ipset %s", name), err)
	}
	return nil
}

func setErr(what string, err error) error {
	return errno.Wrap(what, err, "needs root or CAP_NET_ADMIN")
}

// syncChain makes the chain hold exactly want. When it already does
// (same digest, same count) nothing changes; otherwise the new rules are
// inserted in front and the old ones deleted after them.
func (k *Kernel) syncChain(t *iptables.IPTables, want [][]string) error {
	exists, err := t.ChainExists(Table, Chain)
	if err != nil {
		return err
	}
	if !exists {
		if err := t.NewChain(Table, Chain); err != nil {
			return err
		}
	}
	cur, err := chainRules(t)
	if err != nil {
		return err
	}
	tag := want[0][len(want[0])-1]
	if len(cur) == len(want) && allTagged(cur, tag) {
		return nil
	}
	for i, r := range want {
		if err := t.Insert(Table, Chain, i+1, r...); err != nil {
			return fmt.Errorf("inserting %q: %w", strings.Join(r, " "), err)
		}
	}
	for range cur {
		if err := t.DeleteById(Table, Chain, len(want)+1); err != nil {
			return fmt.Errorf("deleting an old rule: %w", err)
		}
	}
	return nil
}

// chainRules lists the chain's rules ("-A OTPKNOCK ...").
func chainRules(t *iptables.IPTables) ([]string, error) {
	all, err := t.List(Table, Chain)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range all {
		if strings.HasPrefix(r, "-A ") {
			out = append(out, r)
		}
	}
	return out, nil
}

func allTagged(rules []string, tag string) bool {
	for _, r := range rules {
		if !strings.Contains(r, tag) {
			return false
		}
	}
	return true
}

// Grant adds (or refreshes) src,svc in the family's set with a timeout.
func (k *Kernel) Grant(src netip.Addr, svc derive.Knock, timeout time.Duration) error {
	src = src.Unmap()
	secs := uint32(timeout / time.Second)
	port, proto := svc.Port, uint8(unix.IPPROTO_TCP)
	if svc.Proto == derive.UDP {
		proto = unix.IPPROTO_UDP
	}
	e := &netlink.IPSetEntry{IP: src.AsSlice(), Port: &port, Protocol: &proto, Timeout: &secs, Replace: true}
	if err := k.nl.IpsetAdd(Set(src), e); err != nil {
		return setErr(fmt.Sprintf("adding %v %v to set %q", src, svc, Set(src)), err)
	}
	return nil
}

// Close deletes the NFLOG rules only: fail closed.
func (k *Kernel) Close(p Plan) error {
	var errs []error
	for _, f := range k.families() {
		for _, r := range p.Rules(f.v6) {
			if IsNFLOG(r) {
				if err := f.ipt.DeleteIfExists(Table, Chain, r...); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", ipt(f.v6), err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Remove deletes the jump, the chain and the sets.
func (k *Kernel) Remove(Plan) error {
	var errs []error
	for _, f := range k.families() {
		// Without the chain there is no jump, and iptables -C on a jump to a
		// missing chain fails: Remove runs again on a clean firewall.
		if ok, _ := f.ipt.ChainExists(Table, Chain); ok {
			if err := f.ipt.DeleteIfExists(Table, "INPUT", jump()...); err != nil {
				errs = append(errs, err)
			}
			if err := f.ipt.ClearAndDeleteChain(Table, Chain); err != nil {
				errs = append(errs, err)
			}
		}
		if err := netlink.IpsetDestroy(f.set); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, setErr("destroying ipset "+f.set, err))
		}
	}
	errs = append(errs, removeFilter())
	return errors.Join(errs...)
}

// Status lists the chain's rules and the sets' entries.
func (k *Kernel) Status(Plan) (Status, error) {
	var st Status
	for _, f := range k.families() {
		ok, err := f.ipt.ChainExists(Table, Chain)
		if err != nil {
			return st, err
		}
		if !ok {
			continue
		}
		st.Installed = true
		rules, err := chainRules(f.ipt)
		if err != nil {
			return st, err
		}
		if f.v6 {
			st.Rules6 = rules
		} else {
			st.Rules4 = rules
		}
		res, err := netlink.IpsetList(f.set)
		if err != nil {
			continue
		}
		for _, e := range res.Entries {
			g := GrantInfo{Svc: derive.Knock{Proto: derive.TCP}}
			g.Src, _ = netip.AddrFromSlice(e.IP)
			g.Src = g.Src.Unmap()
			if e.Port != nil {
				g.Svc.Port = *e.Port
			}
			if e.Protocol != nil && *e.Protocol == unix.IPPROTO_UDP {
				g.Svc.Proto = derive.UDP
			}
			if e.Timeout != nil {
				g.Left = time.Duration(*e.Timeout) * time.Second
			}
			st.Grants = append(st.Grants, g)
		}
	}
	return st, nil
}
