package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/otpknock/otpknock/internal/naming"
)

// Fleet is the fleet section: how this server joins a fleet of servers
// sharing users, used steps and grants through NATS JetStream. A config
// without it is a lone server.
type Fleet struct {
	ID           string   // the fleet id: the name of its buckets and subjects
	Member       string   // this member's name in the fleet (default: server_id)
	Identity     string   // the identity clients knock: this server's, or its pool's
	Servers      []string // NATS URLs
	Credentials  string   // a NATS credentials file (JWT and nkey seed)
	User         string   // NATS user, with PasswordFile
	PasswordFile string
	TLSCA        string
	TLSCert      string
	TLSKey       string
	Insecure     bool   // plain and anonymous NATS: tests only
	AdminKey     []byte // the administrator's X25519 public key
	KeyFile      string // this member's X25519 private key (created on first start)
	CacheFile    string // the last copy of this member's users
	Replicas     int
	Unavailable  string // local or refuse: what a knock meets while NATS is unreachable
}

type fleetFile struct {
	ID           string   `yaml:"id"`
	Member       string   `yaml:"member,omitempty"`
	Identity     string   `yaml:"identity,omitempty"`
	Servers      []string `yaml:"servers,flow"`
	Credentials  string   `yaml:"credentials,omitempty"`
	User         string   `yaml:"user,omitempty"`
	PasswordFile string   `yaml:"password_file,omitempty"`
	TLSCA        string   `yaml:"tls_ca,omitempty"`
	TLSCert      string   `yaml:"tls_cert,omitempty"`
	TLSKey       string   `yaml:"tls_key,omitempty"`
	Insecure     bool     `yaml:"insecure,omitempty"`
	AdminKey     string   `yaml:"admin_key"`
	KeyFile      string   `yaml:"key_file,omitempty"`
	CacheFile    string   `yaml:"cache_file,omitempty"`
	Replicas     int      `yaml:"replicas,omitempty"`
	Unavailable  string   `yaml:"fleet_unavailable,omitempty"`
}

// validate checks the fleet section of a config whose server id, host,
// secrets directory and state file are known; nil f is a lone server.
func (f *fleetFile) validate(dir string, c *Config) (*Fleet, error) {
	if f == nil {
		return nil, nil
	}
	fl := &Fleet{ID: f.ID, Member: f.Member, Identity: f.Identity, Servers: f.Servers, User: f.User,
		Insecure: f.Insecure, Replicas: f.Replicas, Unavailable: f.Unavailable,
		Credentials: resolveSet(dir, f.Credentials), PasswordFile: resolveSet(dir, f.PasswordFile),
		TLSCA: resolveSet(dir, f.TLSCA), TLSCert: resolveSet(dir, f.TLSCert), TLSKey: resolveSet(dir, f.TLSKey),
		KeyFile: resolveSet(dir, f.KeyFile), CacheFile: resolveSet(dir, f.CacheFile)}
	fl.defaults(c)
	if err := fl.checkNames(); err != nil {
		return nil, err
	}
	if err := fl.checkLink(); err != nil {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(f.AdminKey)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("fleet.admin_key: %q is not a Base64 X25519 public key of 32 bytes (otpknockd fleet admin-key prints it)", f.AdminKey)
	}
	fl.AdminKey = key
	return fl, nil
}

func resolveSet(dir, p string) string {
	if p == "" {
		return ""
	}
	return resolve(dir, p)
}

// defaults fills what the section may leave out.
func (fl *Fleet) defaults(c *Config) {
	if fl.Member == "" {
		fl.Member = c.ServerID
	}
	if fl.Identity == "" {
		fl.Identity = strings.ToLower(strings.TrimSuffix(c.Host, "."))
	}
	if fl.KeyFile == "" {
		fl.KeyFile = filepath.Join(c.SecretsDir, "fleet.key")
	}
	if fl.CacheFile == "" {
		fl.CacheFile = filepath.Join(filepath.Dir(c.StateFile), "fleet-users.json")
	}
	if fl.Replicas == 0 {
		fl.Replicas = 1
	}
	if fl.Unavailable == "" {
		fl.Unavailable = "local"
	}
}

func (fl *Fleet) checkNames() error {
	switch {
	case !naming.ServerID(fl.ID):
		return fmt.Errorf("fleet.id: %q must be 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit", fl.ID)
	case !naming.ServerID(fl.Member):
		return fmt.Errorf("fleet.member: %q must be 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit", fl.Member)
	case fl.Identity == "":
		return fmt.Errorf("fleet.identity: set it (or host) to the name clients knock: this server's, or its pool's")
	case !naming.ServerID(fl.Identity) || fl.Identity != strings.ToLower(fl.Identity):
		return fmt.Errorf("fleet.identity: %q must be the lower-case name clients knock, 1-64 of a-z 0-9 . _ - (docs/spec.md section 14.2)", fl.Identity)
	case fl.Unavailable != "local" && fl.Unavailable != "refuse":
		return fmt.Errorf("fleet.fleet_unavailable: %q must be local or refuse", fl.Unavailable)
	case fl.Replicas < 1 || fl.Replicas > 5:
		return fmt.Errorf("fleet.replicas: %d must be from 1 to 5", fl.Replicas)
	}
	return nil
}

// checkLink refuses a link to NATS without TLS and credentials unless
// insecure is set.
func (fl *Fleet) checkLink() error {
	if len(fl.Servers) == 0 {
		return fmt.Errorf("fleet.servers: list the NATS servers, e.g. [tls://nats1.example.org:4222]")
	}
	for i, s := range fl.Servers {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" || u.User != nil {
			return fmt.Errorf("fleet.servers[%d]: %q must be nats://HOST:PORT or tls://HOST:PORT, with no credentials in it", i, s)
		}
	}
	if (fl.User == "") != (fl.PasswordFile == "") {
		return fmt.Errorf("fleet.user: user and password_file go together")
	}
	if (fl.TLSCert == "") != (fl.TLSKey == "") {
		return fmt.Errorf("fleet.tls_cert: tls_cert and tls_key go together")
	}
	switch {
	case fl.Insecure:
		return nil
	case fl.TLSCA == "":
		return fmt.Errorf("fleet.tls_ca: a member joins NATS over TLS only (insecure: true is for tests)")
	case fl.Credentials == "" && fl.User == "":
		return fmt.Errorf("fleet.credentials: give a NATS credentials file, or user and password_file (insecure: true is for tests)")
	case fl.Credentials != "" && fl.User != "":
		return fmt.Errorf("fleet.credentials: give a credentials file or user and password_file, not both")
	}
	return nil
}
