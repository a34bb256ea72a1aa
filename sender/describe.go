package sender

import "github.com/otpknock/otpknock/derive"

// Describe names the socket Write or WritePayload would send k by.
func (p *Portable) Describe(k derive.Knock) string {
	switch k.Proto {
	case derive.TCP:
		return "connect"
	case derive.UDP:
		return "udp socket"
	case derive.ICMP:
		if p.NoRaw {
			return "ping socket"
		}
		return "ping socket, else raw socket"
	}
	return "unknown protocol"
}
