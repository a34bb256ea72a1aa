package firewalltest

import (
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/firewall"
)

// Plan is the plan the tests install: the knock range 20000-59999 of
// TCP, UDP and ICMP, NFLOG group 4711, three protected services and
// grants of 30 seconds.
func Plan() firewall.Plan {
	return firewall.Plan{Group: 4711, PortMin: 20000, PortMax: 59999, Protocols: derive.Protocols(derive.TCP | derive.UDP | derive.ICMP),
		Protected: []derive.Knock{{Proto: derive.TCP, Port: 22}, {Proto: derive.TCP, Port: 2222}, {Proto: derive.UDP, Port: 1194}},
		Timeout:   30 * time.Second}
}
