package firewall

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/otpknock/otpknock/derive"
)

// ForwardChain is the chain that guards Plan.Forward on the forward path,
// jumped from DOCKER-USER when that chain exists, else from FORWARD.
const ForwardChain = "OTPKNOCK-FWD"

// ForwardSet names the set of the sources granted svc on the forward
// path, in the family's set (otpknock4-tcp-8080): a hash:ip set, since
// after the DNAT the packet's port is the container's, and the grant's
// port is matched on the connection's original destination instead.
func ForwardSet(v6 bool, svc derive.Knock) string {
	fam := "4"
	if v6 {
		fam = "6"
	}
	return fmt.Sprintf("otpknock%s-%s-%d", fam, svc.Proto, svc.Port)
}

// ForwardNetSet names the set of the prefixes granted svc on the
// forward path, with Plan.Prefixes (otpknocknet4-tcp-8080): a hash:net
// set, matched as ForwardSet is, for a grant of a prefix wider than one
// address.
func ForwardNetSet(v6 bool, svc derive.Knock) string {
	return "otpknocknet" + strings.TrimPrefix(ForwardSet(v6, svc), "otpknock")
}

// forwardSets lists the forward sets of p for one family: each
// forwarded service's address set, then with Plan.Prefixes its prefix
// set.
func (p Plan) forwardSets(v6 bool) []string {
	var out []string
	for _, svc := range p.Forward {
		out = append(out, ForwardSet(v6, svc))
	}
	if p.Prefixes {
		for _, svc := range p.Forward {
			out = append(out, ForwardNetSet(v6, svc))
		}
	}
	return out
}

// ForwardRules returns the forward chain's rules for IPv4 or IPv6, each
// with the digest comment of the forward rule set; none without
// Plan.Forward. After the DNAT of a published port the packet carries
// the container's address and port, so the rules match the port the
// client connected to with conntrack's original destination
// (--ctorigdstport), and only DNATed connections (--ctstate DNAT): a
// container's own connections to a remote port of the same number pass.
// Established sessions of the services are accepted, other established
// traffic returns to the host's rules, a granted source (in the
// service's address set, or with Plan.Prefixes its prefix set) is
// accepted and every other new connection to a forwarded service is
// dropped.
func (p Plan) ForwardRules(v6 bool) [][]string {
	rules := p.forwardRules(v6)
	tag := []string{"-m", "comment", "--comment", "otpknock:" + p.ForwardDigest()}
	for i := range rules {
		rules[i] = append(rules[i], tag...)
	}
	return rules
}

func (p Plan) forwardRules(v6 bool) [][]string {
	if len(p.Forward) == 0 {
		return nil
	}
	match := func(svc derive.Knock, state string) []string {
		return []string{"-p", svc.Proto.String(), "-m", "conntrack", "--ctstate", state, "--ctorigdstport", strconv.Itoa(int(svc.Port))}
	}
	var r [][]string
	for _, svc := range p.Forward {
		r = append(r, append(match(svc, "ESTABLISHED,RELATED"), "-j", "ACCEPT"))
	}
	r = append(r, []string{"-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"})
	for _, svc := range p.Forward {
		r = append(r, append(match(svc, "DNAT"), "-m", "set", "--match-set", ForwardSet(v6, svc), "src", "-j", "ACCEPT"))
	}
	if p.Prefixes {
		for _, svc := range p.Forward {
			r = append(r, append(match(svc, "DNAT"), "-m", "set", "--match-set", ForwardNetSet(v6, svc), "src", "-j", "ACCEPT"))
		}
	}
	for _, svc := range p.Forward {
		r = append(r, append(match(svc, "DNAT"), "-j", "DROP"))
	}
	return r
}

// ForwardDigest identifies the forward rule set.
func (p Plan) ForwardDigest() string {
	h := sha256.New()
	for _, v6 := range []bool{false, true} {
		for _, r := range p.forwardRules(v6) {
			fmt.Fprintln(h, strings.Join(r, " "))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// renderForward appends the commands of the forward path to a dry run.
func (p Plan) renderForward(b *strings.Builder) {
	if len(p.Forward) == 0 {
		return
	}
	secs := strconv.Itoa(int(p.Timeout.Seconds()))
	for _, fam := range []struct {
		cmd, family string
		v6          bool
	}{{"iptables", "inet", false}, {"ip6tables", "inet6", true}} {
		for _, svc := range p.Forward {
			fmt.Fprintf(b, "ipset create %s hash:ip family %s timeout %s -exist\n", ForwardSet(fam.v6, svc), fam.family, secs)
		}
		if p.Prefixes {
			for _, svc := range p.Forward {
				fmt.Fprintf(b, "ipset create %s hash:net family %s timeout %s -exist\n", ForwardNetSet(fam.v6, svc), fam.family, secs)
			}
		}
		fmt.Fprintf(b, "%s -t %s -N %s\n", fam.cmd, Table, ForwardChain)
		for _, r := range p.ForwardRules(fam.v6) {
			fmt.Fprintf(b, "%s -t %s -A %s %s\n", fam.cmd, Table, ForwardChain, quote(r))
		}
		fmt.Fprintf(b, "%s -t %s -I DOCKER-USER 1 %s   # FORWARD without Docker\n", fam.cmd, Table, quote(jumpRule(ForwardChain)))
	}
}
