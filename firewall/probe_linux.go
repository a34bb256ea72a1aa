package firewall

// Probe checks that ipset over netlink works, changing nothing: it lists
// the sets, and reports whether otpknock's sets exist.
func (k *Kernel) Probe() (sets int, installed bool, err error) {
	all, err := k.nl.IpsetListAll()
	if err != nil {
		return 0, false, setErr("listing ipsets", err)
	}
	for _, s := range all {
		if s.SetName == Set4 || s.SetName == Set6 {
			installed = true
		}
	}
	return len(all), installed, nil
}
