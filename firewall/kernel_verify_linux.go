package firewall

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// Verify lists what the plan installs that is missing or differs: the
// chain or its rules (count and digest), the INPUT jump, the sets.
func (k *Kernel) Verify(p Plan) ([]string, error) {
	var out []string
	for _, f := range k.families() {
		ok, err := f.ipt.ChainExists(Table, Chain)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ipt(f.v6), err)
		}
		if !ok {
			out = append(out, fmt.Sprintf("%s: chain %s is missing", ipt(f.v6), Chain))
			continue
		}
		cur, err := chainRules(f.ipt)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ipt(f.v6), err)
		}
		want := p.Rules(f.v6)
		if len(cur) != len(want) || !allTagged(cur, want[0][len(want[0])-1]) {
			out = append(out, fmt.Sprintf("%s: chain %s has %d rules, want %d of digest %s", ipt(f.v6), Chain, len(cur), len(want), p.Digest()))
		}
		if ok, err := f.ipt.Exists(Table, "INPUT", jump()...); err != nil || !ok {
			out = append(out, fmt.Sprintf("%s: the INPUT jump to %s is missing", ipt(f.v6), Chain))
		}
		if _, err := netlink.IpsetList(f.set); err != nil {
			out = append(out, fmt.Sprintf("ipset %s is missing", f.set))
		}
	}
	return out, nil
}
