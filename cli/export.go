package cli

import (
	"net/netip"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/profile"
	"github.com/spf13/cobra"
)

// The helpers below are the client's, shared with otpknockd's commands
// (package fullcli) so that both speak alike.

// Usage marks err as an error of usage or configuration (ExitUsage);
// nil stays nil.
func Usage(err error) error { return usage(err) }

// UsageErrorf is Usage(fmt.Errorf(format, a...)).
func UsageErrorf(format string, a ...any) error { return usageErrorf(format, a...) }

// Args returns a cobra argument validator for min to max arguments whose
// error says what is expected.
func Args(min, max int, what string) cobra.PositionalArgs { return args(min, max, what) }

// OpenStore loads the client's profile store ($OTPKNOCK_CLIENT_CONFIG,
// else the user's config directory).
func OpenStore(env *Env) (*profile.Store, error) { return openStore(env) }

// SourceArg returns the source address a source-bound knock is derived
// for: value, parsed, when bound (flag names it in errors, who the
// profile or user), fallback's when value is empty; none when not bound.
func SourceArg(flag, value, who string, bound bool, fallback func() (netip.Addr, error)) (netip.Addr, error) {
	return sourceArg(flag, value, who, bound, fallback)
}

// FormatSequence writes a sequence as show's --format asks: plain
// (tcp/23456, space-separated) or knock (the knock client's 23456:tcp).
func FormatSequence(ks []derive.Knock, format, name string) (string, error) {
	return formatSequence(ks, format, name)
}

// CompleteFirst completes a command's first argument with names.
func CompleteFirst(names func(*cobra.Command) []string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return firstArg(names)
}

// CompleteValues completes a flag's value from a fixed list.
func CompleteValues(vs ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return values(vs...)
}

// KnockList joins services for a table or message; "-" for none.
func KnockList(ks []derive.Knock) string {
	if len(ks) == 0 {
		return "-"
	}
	return derive.Knocks(ks).String()
}

// YesNo is "yes" or "no".
func YesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
