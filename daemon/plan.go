package daemon

import (
	"slices"

	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
)

// FirewallPlan returns the firewall a config needs: its NFLOG group, knock
// range, protocols and open_timeout, the services of all users, sorted
// by protocol and port, each once; the services marked forward are
// guarded on the forward path too (and closed on INPUT, even when no
// user opens them); and the kernel's pre-filter, whose kernel-side
// tracking lasts a sequence (the daemon clears Filter for a backend
// without one); icmp_echo: drop drops every echo request.
func FirewallPlan(c *config.Config) firewall.Plan {
	p := firewall.Plan{Group: c.NFLOGGroup, PortMin: c.Params.PortMin, PortMax: c.Params.PortMax,
		Protocols: c.Params.Protocols, Timeout: c.OpenTimeout, Forward: c.Forward, Filter: true, Track: c.SequenceTimeout,
		DropEcho: c.ICMPEcho == config.ICMPEchoDrop}
	for _, u := range c.Users {
		p.Protected = append(p.Protected, u.Open...)
		p.Prefixes = p.Prefixes || !u.GrantPrefix.IsZero()
	}
	p.Protected = append(p.Protected, c.Forward...)
	slices.SortFunc(p.Protected, func(a, b derive.Knock) int {
		return int(a.Proto)<<16 + int(a.Port) - (int(b.Proto)<<16 + int(b.Port))
	})
	p.Protected = slices.Compact(p.Protected)
	return p
}

// PlanFor is FirewallPlan for the backend fw: without a firewall.Filter
// the plan logs the whole knock range (Plan.Filter is cleared), as the
// daemon installs it.
func PlanFor(c *config.Config, fw firewall.Backend) firewall.Plan {
	p := FirewallPlan(c)
	_, p.Filter = fw.(firewall.Filter)
	return p
}
