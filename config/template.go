package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/template"
)

// InitOptions are the values `otpknock init` writes into a new config.
type InitOptions struct {
	ServerID   string
	Host       string
	SecretsDir string // default "secrets", next to the config
	StateFile  string
	// Service, when set, is the account the server runs as: the config
	// gets its group and mode 0640, a directory init creates for it
	// 0750 and that group, and a missing secrets_dir is created 0700,
	// owned by the service user. Nil leaves the config 0600, its
	// creator's alone.
	Service *Account
}

// initTemplate is parsed on first use, not when the package loads: the
// client commands link this package and never write a config.
var initTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("config").Parse(initText))
})

const initText = `# otpknock server configuration.
# Reference: docs/spec.md. Durations are Go durations (30s, 2m).
# Clients derive their knocks from server_id, step, knocks, knock_range,
# protocols and exclude: changing any of them means provisioning every
# user again (otpknockd user add prints the new URI).

# Identity of this server, part of every derivation: one secret used on
# two servers gives unrelated sequences.
server_id: {{.ServerID}}

# Address clients knock (a DNS name or IP), written into provisioning URIs.
host: {{.Host}}

# Directory of the users' secret files (mode 0600), relative to this file.
secrets_dir: {{.SecretsDir}}

# Where the last used step of each user is kept, so a restart never
# accepts a sequence twice.
state_file: {{.StateFile}}

# Length of a time step: a new sequence every step.
step: 30s

# Steps accepted either side of the server's clock (clock skew).
skew: 1

# Knocks per sequence.
knocks: 4

# Ports knocks are drawn from. Keep protected services out of it, or list
# them in exclude.
knock_range: 20000-59999

# Knock protocols: tcp (SYN), udp, icmp (echo request).
protocols: [tcp, udp]

# With icmp in protocols, echo requests whose sequence number lies in
# knock_range are knocks; other pings are the host's: answered when its
# firewall allows them (host), or all dropped so the host never answers
# a ping (drop).
icmp_echo: host

# Ports in knock_range never used as knocks (services listening there).
exclude: []

# Longest time from the first knock to the last.
sequence_timeout: 10s

# How long a grant keeps the service open for the knocking address.
# Established connections outlive it.
open_timeout: 30s

# NFLOG group the firewall rule logs knock packets to.
nflog_group: 4711

# Firewall backend: nftables (table inet otpknock), iptables (chain
# OTPKNOCK and ipsets), or auto: nftables where the host's ruleset is
# nftables-native, iptables where legacy iptables is in use.
# otpknockd server --check says which one auto picks and why.
firewall: auto

# Prometheus metrics and a health check (/metrics, /healthz) on a
# loopback address, e.g. 127.0.0.1:9557; empty: off.
metrics_listen: ""

# Services published into a container (docker run -p) never cross
# INPUT: mark them forward: true and otpknock guards the forward path
# too, e.g.
#   services:
#     tcp/8080: {forward: true}

# Users, added with: otpknockd user add NAME --open tcp/22
#   open:        services a knock opens, e.g. [tcp/22, udp/1194];
#                keep them out of knock_range
#   from:        allowed source CIDRs (default: any)
#   bind_source: the source address is part of the sequence (no NAT)
#   grant_prefix: {v4: 24, v6: 64} opens the prefix around each
#                granted address (CGNAT pools, IPv6 temporary
#                addresses); IPv4 /16 to /32, IPv6 /48 to /128
#   knock:       sequence (default): a sequence of bare knocks; or
#                packet: one UDP datagram or ICMP echo request whose
#                payload carries a MAC and the addresses to open (needs
#                udp or icmp in protocols; user add --knock packet)
# e.g.
#   - name: alice
#     open: [tcp/22]
#     knock: packet
users: []
`

// WriteInit writes a commented default config to path with mode 0600
// (0640 and the service group with InitOptions.Service).
// It refuses to overwrite an existing file. The written file is parsed
// before it is kept, so a bad --server-id or --host is reported here.
func WriteInit(path string, o InitOptions) (*Config, error) {
	if o.SecretsDir == "" {
		o.SecretsDir = DefaultSecretsDir
	}
	if o.StateFile == "" {
		o.StateFile = DefaultStateFile
	}
	if o.Host == "" {
		o.Host = `""`
	}
	for name, v := range map[string]string{"--server-id": o.ServerID, "--secrets-dir": o.SecretsDir, "--state-file": o.StateFile} {
		if strings.ContainsAny(v, "\n\"'#:{}[]") {
			return nil, fmt.Errorf("%s: %q contains characters not allowed here", name, v)
		}
	}
	var b strings.Builder
	if err := initTemplate().Execute(&b, o); err != nil {
		return nil, err
	}
	c, err := Parse([]byte(b.String()), path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	_, err = os.Stat(dir)
	created := errors.Is(err, fs.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the config's directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if os.IsExist(err) {
			return nil, fmt.Errorf("%s already exists; init never overwrites a config", path)
		}
		return nil, fmt.Errorf("creating config: %w", err)
	}
	if o.Service != nil {
		if err := shareInit(f, o.Service); err != nil {
			f.Close()
			os.Remove(path)
			return nil, err
		}
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if o.Service != nil {
		if err := shareDirs(dir, c.SecretsDir, created, o.Service); err != nil {
			return c, err
		}
	}
	return c, nil
}
