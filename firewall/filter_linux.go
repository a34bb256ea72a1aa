package firewall

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/otpknock/otpknock/derive"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The IPTables's Filter: two bitmap:port sets of armed ports (TCP, UDP)
// and two hash:ip sets of tracked sources (IPv4, IPv6), every entry with
// its own kernel timeout. ICMP elements are not armed: no set matches an
// echo request's sequence number, so the ICMP rule logs every echo
// request whose sequence number lies in the knock range (a u32 match).

// Setup creates the filter's sets when the plan filters, before
// the rules that match them; an existing set is kept, but for a source
// set whose hash is smaller than sourceHashSize, which is replaced
// (setupSources).
func (ipsetFilter) Setup(p Plan) error {
	if !p.Filter {
		return nil
	}
	c, err := dialIpset()
	if err != nil {
		return err
	}
	defer c.close()
	for _, s := range []string{FilterTCP, FilterUDP} {
		err := c.do(createPortSet(c.next(), s))
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return setErr("creating ipset "+s, err)
		}
	}
	return setupSources(c)
}

// Check lists the source sets that are missing or whose hash is
// smaller than sourceHashSize, when the plan filters.
func (ipsetFilter) Check(p Plan) ([]string, error) {
	if !p.Filter {
		return nil, nil
	}
	c, err := dialIpset()
	if err != nil {
		return nil, err
	}
	defer c.close()
	return checkSources(c)
}

// Remove destroys the filter's sets (after the rules that match
// them are gone), and a replacement source set an interrupted Setup
// left; missing ones are no error.
func (ipsetFilter) Remove() error {
	var errs []error
	for _, s := range []string{FilterTCP, FilterUDP, FilterSrc4, FilterSrc6, replacement(FilterSrc4), replacement(FilterSrc6)} {
		if err := netlink.IpsetDestroy(s); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, setErr("destroying ipset "+s, err))
		}
	}
	return errors.Join(errs...)
}

// Arm adds the TCP and UDP elements to their sets with their TTLs, in
// batches of batchMax per netlink message; ICMP elements are skipped
// (see above).
func (ipsetFilter) Arm(elems []Element) error {
	c, err := dialIpset()
	if err != nil {
		return err
	}
	defer c.close()
	ports := make([]uint16, 0, batchMax)
	secs := make([]uint32, 0, batchMax)
	for _, r := range derive.ProtoTable() {
		proto, set := r.Proto, elementSet(r.Proto)
		if set == "" {
			continue
		}
		ports, secs = ports[:0], secs[:0]
		for i, e := range elems {
			if e.Knock.Proto == proto {
				ports = append(ports, e.Knock.Port)
				secs = append(secs, ttlSeconds(e.TTL))
			}
			if len(ports) == batchMax || (i == len(elems)-1 && len(ports) > 0) {
				c.out = addPorts(c.out, c.next(), set, ports, secs)
				if err := c.do(c.out); err != nil {
					return setErr(fmt.Sprintf("arming %d elements in set %s", len(ports), set), err)
				}
				ports, secs = ports[:0], secs[:0]
			}
		}
	}
	return nil
}

// Track adds the sources to their family's set with their TTLs, in
// batches of batchMax per netlink message.
func (ipsetFilter) Track(srcs []Source) error {
	c, err := dialIpset()
	if err != nil {
		return err
	}
	defer c.close()
	fams := [2][]netip.Addr{}
	secs := [2][]uint32{}
	for _, s := range srcs {
		a, i := s.Addr.Unmap(), 0
		if !a.Is4() {
			i = 1
		}
		fams[i] = append(fams[i], a)
		secs[i] = append(secs[i], ttlSeconds(s.TTL))
	}
	for i, set := range []string{FilterSrc4, FilterSrc6} {
		for as, ss := fams[i], secs[i]; len(as) > 0; as, ss = as[min(len(as), batchMax):], ss[min(len(ss), batchMax):] {
			n := min(len(as), batchMax)
			c.out = addAddrs(c.out, c.next(), set, as[:n], ss[:n])
			if err := c.do(c.out); err != nil {
				return setErr(fmt.Sprintf("tracking %d sources in set %s", n, set), err)
			}
		}
	}
	return nil
}

// filterSets is the seam under IPTables for the filter's sets: the real
// one is ipsetFilter (batched ipset messages over netlink), the fake
// fakeFilterSets.
type filterSets interface {
	Filter
	// Setup creates the filter's sets when p filters; existing ones
	// stay, but for a source set with a hash smaller than
	// sourceHashSize, which is replaced in place (the rules that match
	// it never see it missing) and loses its entries.
	Setup(p Plan) error
	// Check lists, when p filters, the source sets that are missing or
	// whose hash is smaller than sourceHashSize ("set NAME: hash size
	// N, want M"); Setup repairs them.
	Check(p Plan) ([]string, error)
	// Remove destroys the filter's sets; missing ones are no error.
	Remove() error
}

// ipsetFilter is the filter's sets in the kernel.
type ipsetFilter struct{}

// Arm lets knocks to each element through for its TTL.
func (k *IPTables) Arm(elems []Element) error { return k.filter.Arm(elems) }

// Track lets every knock packet from each source through for its TTL.
func (k *IPTables) Track(srcs []Source) error { return k.filter.Track(srcs) }
