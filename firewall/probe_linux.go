package firewall

// Probe checks that ipset over netlink works, changing nothing: it lists
// the sets, and reports whether otpknock's sets exist.
func (k *IPTables) Probe() (sets int, installed bool, err error) {
	names, err := k.sets.Names()
	if err != nil {
		return 0, false, err
	}
	for _, n := range names {
		if n == Set4 || n == Set6 {
			installed = true
		}
	}
	return len(names), installed, nil
}
