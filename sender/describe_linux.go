package sender

import "github.com/otpknock/otpknock/derive"

// Describe names the socket Write would send k by: a raw SYN when
// privileged, else what [Portable] uses.
func (k *Kernel) Describe(kn derive.Knock) string {
	if kn.Proto == derive.TCP && !k.NoRaw {
		return "raw SYN, else connect"
	}
	return k.portable().Describe(kn)
}
