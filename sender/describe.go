package sender

import "github.com/otpknock/otpknock/derive"

// Describe names the socket Write or WritePayload would send k by.
func (p *Portable) Describe(k derive.Knock) string {
	how, _ := p.wire(k.Proto)
	return how
}
