package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/naming"
	"go.yaml.in/yaml/v3"
)

// Defaults of the fields that derive does not own.
const (
	DefaultPath            = "/etc/otpknock/config.yaml"
	DefaultSecretsDir      = "secrets"
	DefaultStateFile       = "/var/lib/otpknock/state.json"
	DefaultSkew            = 1
	DefaultSequenceTimeout = 10 * time.Second
	DefaultOpenTimeout     = 30 * time.Second
	DefaultNFLOGGroup      = 4711
	DefaultFirewall        = "auto"
	DefaultICMPEcho        = ICMPEchoHost
	MaxSkew                = 10
)

// Values of icmp_echo: what becomes of echo requests that are not knock
// candidates (sequence number outside knock_range) when icmp is a knock
// protocol.
const (
	ICMPEchoHost = "host" // the host's own firewall decides (pings answered unless it drops them)
	ICMPEchoDrop = "drop" // otpknock drops every echo request: the host never answers a ping
)

// Config is a parsed and validated server configuration. Paths are
// absolute (relative ones in the file are resolved from its directory).
type Config struct {
	Path            string
	ServerID        string
	Host            string // the address clients knock, written into URIs
	SecretsDir      string
	StateFile       string
	Params          derive.Params
	Skew            int
	SequenceTimeout time.Duration
	OpenTimeout     time.Duration
	NFLOGGroup      uint16
	MetricsListen   string // loopback host:port for /metrics and /healthz; "" is off
	Firewall        string // the firewall backend: auto, nftables or iptables
	ICMPEcho        string // ICMPEchoHost or ICMPEchoDrop
	Users           []User
	// Forward are the services marked forward: true under services:
	// DNATed to a container (a Docker published port), guarded on the
	// forward path as well as INPUT; sorted.
	Forward []derive.Knock
	Fleet   *Fleet // nil: a lone server (see fleet.go)
	// AuditLog is a file of JSON lines, one per grant and refusal; "" is
	// none.
	AuditLog string
}

// User is one user of the server.
type User struct {
	Name       string
	Open       []derive.Knock // the services a knock opens (tcp or udp)
	From       []netip.Prefix // sources allowed to knock; empty: any
	BindSource bool           // the source address is part of the derivation
	Knock      derive.Mode    // sequence (the default) or packet
	Auth       derive.Auth    // packet users: hmac (the default) or ed25519
	PublicKey  []byte         // ed25519 users: the key their knocks are signed with (ed25519.PublicKey)
	// GrantPrefix opens the prefix around each granted address instead
	// of the address alone (grant_prefix: {v4: 24, v6: 64}).
	GrantPrefix GrantPrefix
}

// file is the YAML form of Config.
type file struct {
	ServerID        string `yaml:"server_id"`
	Host            string `yaml:"host,omitempty"`
	SecretsDir      string `yaml:"secrets_dir"`
	StateFile       string `yaml:"state_file"`
	derive.Fields   `yaml:",inline"`
	Skew            int                    `yaml:"skew"`
	SequenceTimeout time.Duration          `yaml:"sequence_timeout"`
	OpenTimeout     time.Duration          `yaml:"open_timeout"`
	NFLOGGroup      int                    `yaml:"nflog_group"`
	MetricsListen   string                 `yaml:"metrics_listen"`
	Firewall        string                 `yaml:"firewall,omitempty"`
	ICMPEcho        string                 `yaml:"icmp_echo,omitempty"`
	Services        map[string]serviceFile `yaml:"services,omitempty"`
	Users           []userFile             `yaml:"users"`
	Fleet           *fleetFile             `yaml:"fleet,omitempty"`
	AuditLog        string                 `yaml:"audit_log,omitempty"`
}

// serviceFile is the options of one service (services: tcp/8080: ...).
type serviceFile struct {
	Forward bool `yaml:"forward"` // DNATed to a container: guard the forward path
}

type userFile struct {
	Name        string       `yaml:"name"`
	Open        []string     `yaml:"open,flow"`
	From        []string     `yaml:"from,flow,omitempty"`
	BindSource  bool         `yaml:"bind_source,omitempty"`
	Knock       string       `yaml:"knock,omitempty"`
	Auth        string       `yaml:"auth,omitempty"`
	PublicKey   string       `yaml:"public_key,omitempty"`
	GrantPrefix *GrantPrefix `yaml:"grant_prefix,flow,omitempty"`
}

func defaults() file {
	return file{
		SecretsDir: DefaultSecretsDir, StateFile: DefaultStateFile, Fields: derive.DefaultFields(),
		Skew: DefaultSkew, SequenceTimeout: DefaultSequenceTimeout, OpenTimeout: DefaultOpenTimeout,
		NFLOGGroup: DefaultNFLOGGroup, Firewall: DefaultFirewall, ICMPEcho: DefaultICMPEcho,
	}
}

// Load reads and parses the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config %s does not exist (create one with otpknockd init): %w", path, err)
		}
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(data, path)
}

// Parse parses config data read from path (used for messages and to
// resolve relative paths). Unknown keys are errors, so typos show.
func Parse(data []byte, path string) (*Config, error) {
	f := defaults()
	if err := checkExclude(data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, explain(data, err))
	}
	c, err := f.validate(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func (f *file) validate(path string) (*Config, error) {
	if !naming.ServerID(f.ServerID) {
		return nil, fmt.Errorf("server_id: %q must be 1-64 of A-Z a-z 0-9 . _ - (set it with otpknockd init --server-id)", f.ServerID)
	}
	if f.Host != "" && !naming.Host(f.Host) {
		return nil, fmt.Errorf("host: %q is not a host name or address", f.Host)
	}
	if a, err := netip.ParseAddr(f.Host); strings.Contains(f.Host, ":") && (err != nil || !a.Is6()) {
		return nil, fmt.Errorf("host: %q: give a host name or address without a port (the knock chooses its ports)", f.Host)
	}
	p, err := f.Fields.Params()
	if err != nil {
		return nil, derive.Rename(err, derive.Field.Key)
	}
	switch {
	case f.SecretsDir == "":
		return nil, fmt.Errorf("secrets_dir: must not be empty")
	case f.StateFile == "":
		return nil, fmt.Errorf("state_file: must not be empty")
	case f.Skew < 0 || f.Skew > MaxSkew:
		return nil, fmt.Errorf("skew: %d must be from 0 to %d steps", f.Skew, MaxSkew)
	case f.SequenceTimeout < 100*time.Millisecond || f.SequenceTimeout > 5*time.Minute:
		return nil, fmt.Errorf("sequence_timeout: %v must be from 100ms to 5m", f.SequenceTimeout)
	case f.OpenTimeout < time.Second || f.OpenTimeout > 24*time.Hour || f.OpenTimeout%time.Second != 0:
		return nil, fmt.Errorf("open_timeout: %v must be whole seconds from 1s to 24h (kernel set timeouts are in seconds)", f.OpenTimeout)
	case f.NFLOGGroup < 0 || f.NFLOGGroup > 65535:
		return nil, fmt.Errorf("nflog_group: %d must be from 0 to 65535", f.NFLOGGroup)
	case f.Firewall != "auto" && f.Firewall != "nftables" && f.Firewall != "iptables":
		return nil, fmt.Errorf("firewall: %q must be auto, nftables or iptables", f.Firewall)
	case f.ICMPEcho != ICMPEchoHost && f.ICMPEcho != ICMPEchoDrop:
		return nil, fmt.Errorf("icmp_echo: %q must be host or drop", f.ICMPEcho)
	case f.ICMPEcho == ICMPEchoDrop && !p.Protocols.Has(derive.ICMP):
		return nil, fmt.Errorf("icmp_echo: drop needs icmp in protocols (without it otpknock leaves every echo request to the host)")
	}
	if err := checkLoopback(f.MetricsListen); err != nil {
		return nil, fmt.Errorf("metrics_listen: %w", err)
	}
	dir := filepath.Dir(path)
	c := &Config{MetricsListen: f.MetricsListen, Firewall: f.Firewall, ICMPEcho: f.ICMPEcho,
		Path: path, ServerID: f.ServerID, Host: f.Host, Params: p, Skew: f.Skew,
		SecretsDir: resolve(dir, f.SecretsDir), StateFile: resolve(dir, f.StateFile),
		SequenceTimeout: f.SequenceTimeout, OpenTimeout: f.OpenTimeout, NFLOGGroup: uint16(f.NFLOGGroup),
	}
	fwd, err := forwardServices(f.Services, p)
	if err != nil {
		return nil, err
	}
	c.Forward = fwd
	if c.Fleet, err = f.Fleet.validate(dir, c); err != nil {
		return nil, err
	}
	c.AuditLog = resolveSet(dir, f.AuditLog)
	seen := map[string]bool{}
	for i, uf := range f.Users {
		u, err := uf.validate(p)
		if err != nil {
			return nil, fmt.Errorf("users[%d]: %w", i, err)
		}
		if seen[u.Name] {
			return nil, fmt.Errorf("users[%d]: name %q is used twice", i, u.Name)
		}
		seen[u.Name] = true
		c.Users = append(c.Users, u)
	}
	return c, nil
}

// forwardServices reads services:, keyed by service (tcp/8080), and
// returns those with forward: true, sorted by protocol and port.
func forwardServices(m map[string]serviceFile, p derive.Params) ([]derive.Knock, error) {
	var out []derive.Knock
	for _, key := range slices.Sorted(maps.Keys(m)) {
		sf := m[key]
		k, err := derive.ParseService(key)
		if err != nil {
			return nil, fmt.Errorf("services: %w", err)
		}
		if err := checkOutsideRange(k, p); err != nil {
			return nil, fmt.Errorf("services: %w", err)
		}
		if sf.Forward {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b derive.Knock) int {
		return int(a.Proto)<<16 + int(a.Port) - (int(b.Proto)<<16 + int(b.Port))
	})
	return out, nil
}

// checkLoopback accepts "" or a loopback address with a port.
func checkLoopback(s string) error {
	if s == "" {
		return nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || !ap.Addr().IsLoopback() || ap.Port() == 0 {
		return fmt.Errorf("%q must be a loopback address and port, e.g. 127.0.0.1:9557 or [::1]:9557", s)
	}
	return nil
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

func (uf userFile) validate(p derive.Params) (User, error) {
	if !naming.User(uf.Name) {
		return User{}, fmt.Errorf("name: %q must be 1-32 of a-z 0-9 . _ - starting with a letter or digit", uf.Name)
	}
	u := User{Name: uf.Name, BindSource: uf.BindSource}
	mode, err := checkMode(uf.Name, uf.Knock, p)
	if err != nil {
		return User{}, err
	}
	u.Knock = mode
	if u.Auth, u.PublicKey, err = checkAuth(uf); err != nil {
		return User{}, err
	}
	if len(uf.Open) == 0 {
		return User{}, fmt.Errorf("open: %s: list the services a knock opens, e.g. [tcp/22]", uf.Name)
	}
	for j, s := range uf.Open {
		k, err := derive.ParseService(s)
		if err != nil {
			return User{}, fmt.Errorf("open[%d]: %w", j, err)
		}
		if err := checkOutsideRange(k, p); err != nil {
			return User{}, fmt.Errorf("open[%d]: %w", j, err)
		}
		u.Open = append(u.Open, k)
	}
	for j, s := range uf.From {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return User{}, fmt.Errorf("from[%d]: %q is not a CIDR such as 198.18.0.0/15 or 2001:2::/48", j, s)
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		if pfx != pfx.Masked() {
			return User{}, fmt.Errorf("from[%d]: %q has host bits set; did you mean %s?", j, s, pfx.Masked())
		}
		u.From = append(u.From, pfx)
	}
	if uf.GrantPrefix != nil {
		if err := uf.GrantPrefix.check(); err != nil {
			return User{}, fmt.Errorf("grant_prefix: %s: %w", uf.Name, err)
		}
		u.GrantPrefix = *uf.GrantPrefix
	}
	return u, nil
}

// checkMode reads a user's knock field: sequence (also when empty) or
// packet, which the protocols must carry (one that carries a payload,
// udp or icmp: [derive.ProtoInfo.Payload]; docs/spec.md section 11.1).
func checkMode(name, s string, p derive.Params) (derive.Mode, error) {
	m, err := derive.ParseMode(s)
	if err != nil {
		return 0, fmt.Errorf("knock: %s: %w", name, err)
	}
	if m == derive.ModePacket && p.Protocols.Payload() == 0 {
		fe := &derive.FieldError{Field: derive.FieldProtocols, Err: derive.ErrNoPacketProtocol}
		return 0, fmt.Errorf("knock: %s: %w", name, derive.Rename(fe, derive.Field.Key))
	}
	return m, nil
}

// checkOutsideRange refuses a protected port inside the knock range unless
// it is excluded: knocks must never land on a service.
func checkOutsideRange(k derive.Knock, p derive.Params) error {
	if k.Port < p.PortMin || k.Port > p.PortMax {
		return nil
	}
	for _, e := range p.Exclude {
		if e == k.Port {
			return nil
		}
	}
	return fmt.Errorf("%v lies inside knock_range %s: add %d to exclude (clients must then be provisioned again) or move the range", k, p.RangeString(), k.Port)
}

// User returns the user called name.
func (c *Config) User(name string) (User, bool) {
	for _, u := range c.Users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

// SequenceUsers counts the users who knock with sequences: the ones a
// blind sweep can aim at (see derive.Params.EffectiveBits).
func (c *Config) SequenceUsers() int {
	n := 0
	for _, u := range c.Users {
		if u.Knock == derive.ModeSequence {
			n++
		}
	}
	return n
}
