package firewall

import (
	"net/netip"
	"time"

	"github.com/otpknock/otpknock/derive"
)

// Backend is the kernel boundary of the server's output.
type Backend interface {
	// Setup installs the sets, the chain and the INPUT jump; it changes
	// nothing when they are already as planned.
	Setup(Plan) error
	// Grant opens svc to src for timeout; a repeat refreshes the timeout.
	Grant(src netip.Addr, svc derive.Knock, timeout time.Duration) error
	// Close stops logging knocks (the daemon exits): the protected ports
	// stay closed and grants expire on their own.
	Close(Plan) error
	// Remove deletes the chain, the jump and the sets.
	Remove(Plan) error
	// Status lists the installed rules and the live grants.
	Status(Plan) (Status, error)
	// Verify lists what the plan installs that is missing or differs in
	// the kernel (the table or chain, a rule, the jump, a set): nil when
	// intact. The daemon runs it every few seconds and reinstalls with
	// Setup when it reports anything.
	Verify(Plan) ([]string, error)
	// Kind is what sets the backend apart: its name, how it renders a
	// plan and a status, what remove deletes.
	Kind() Kind
}

// Status is what Backend.Status reports.
type Status struct {
	Installed bool
	Rules4    []string
	Rules6    []string
	// Forward4 and Forward6 are the rules of the iptables chain that
	// guards services forwarded to containers (ForwardChain), when there
	// is one; nftables lists its prerouting chain in Rules4.
	Forward4 []string
	Forward6 []string
	Grants   []GrantInfo
}

// GrantInfo is one live grant.
type GrantInfo struct {
	Src  netip.Addr
	Svc  derive.Knock
	Left time.Duration
}

// ipt names a family's iptables command.
func ipt(v6 bool) string {
	if v6 {
		return "ip6tables"
	}
	return "iptables"
}
