package profile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/naming"
	"github.com/otpknock/otpknock/internal/safefile"
	"github.com/otpknock/otpknock/internal/yamlerr"
	"github.com/otpknock/otpknock/provision"
	"go.yaml.in/yaml/v3"
)

// EnvPath names the environment variable that overrides the store path.
const EnvPath = "OTPKNOCK_CLIENT_CONFIG"

// Profile is one imported account under a local name.
type Profile struct {
	Name string
	provision.Account
}

// Store is the client's profile file.
type Store struct {
	Path     string
	Profiles []Profile
	Keys     []Key // Ed25519 key pairs made by keygen
}

type storeFile struct {
	Profiles []profileFile `yaml:"profiles"`
	Keys     []keyFile     `yaml:"keys,omitempty"`
}

type profileFile struct {
	Name          string `yaml:"name"`
	ServerID      string `yaml:"server_id"`
	User          string `yaml:"user"`
	Host          string `yaml:"host"`
	Secret        string `yaml:"secret"`
	derive.Fields `yaml:",inline"`
	Open          []string    `yaml:"open,flow"`
	BindSource    bool        `yaml:"bind_source,omitempty"`
	Knock         derive.Mode `yaml:"knock,omitempty"` // omitted for sequences
	Auth          string      `yaml:"auth,omitempty"`  // ed25519 packet users; secret is then the locator
	PrivateKey    string      `yaml:"private_key,omitempty"`
	Fleet         string      `yaml:"fleet,omitempty"` // a fleet profile: server_id is empty
}

// DefaultPath returns the client's profile file for the running OS: see
// [PathFor].
func DefaultPath(getenv func(string) string) (string, error) {
	return PathFor(runtime.GOOS, getenv, fileExists)
}

// PathFor returns where the client's profiles live on goos, reading the
// environment with getenv:
//
//   - $OTPKNOCK_CLIENT_CONFIG when set;
//   - on Linux and the other Unixes, $XDG_CONFIG_HOME/otpknock/client.yaml,
//     else ~/.config/otpknock/client.yaml (what os.UserConfigDir says);
//   - on macOS, ~/Library/Application Support/otpknock/client.yaml, unless
//     only the XDG location holds a file (exists says), which is kept;
//   - on Windows, %AppData%\otpknock\client.yaml.
func PathFor(goos string, getenv func(string) string, exists func(string) bool) (string, error) {
	if p := getenv(EnvPath); p != "" {
		return p, nil
	}
	xdg := ""
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		xdg = filepath.Join(d, "otpknock", "client.yaml")
	} else if h := getenv("HOME"); h != "" {
		xdg = filepath.Join(h, ".config", "otpknock", "client.yaml")
	}
	switch goos {
	case "windows":
		if d := getenv("AppData"); d != "" {
			return filepath.Join(d, "otpknock", "client.yaml"), nil
		}
		return "", fmt.Errorf("no place for the client profiles: set %s or %%AppData%%", EnvPath)
	case "darwin", "ios":
		if h := getenv("HOME"); h != "" {
			p := filepath.Join(h, "Library", "Application Support", "otpknock", "client.yaml")
			if xdg != "" && !exists(p) && exists(xdg) {
				return xdg, nil
			}
			return p, nil
		}
	case "plan9":
		if h := getenv("home"); h != "" {
			return filepath.Join(h, "lib", "otpknock", "client.yaml"), nil
		}
	}
	if xdg != "" {
		return xdg, nil
	}
	return "", fmt.Errorf("no place for the client profiles: set %s, XDG_CONFIG_HOME or HOME", EnvPath)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// ValidName checks a profile name.
func ValidName(name string) error {
	if !naming.Profile(name) {
		return fmt.Errorf("profile name %q must be 1-64 of A-Z a-z 0-9 . _ @ -", name)
	}
	return nil
}

// Load reads the store at path; a missing file is an empty store.
func Load(path string) (*Store, error) {
	s := &Store{Path: path}
	if err := safefile.CheckPrivate(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return s, nil
		}
		return nil, fmt.Errorf("client profiles: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client profiles: %w", err)
	}
	var f storeFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, yamlerr.Explain(data, err))
	}
	for i, pf := range f.Profiles {
		p, err := pf.profile()
		if err != nil {
			return nil, fmt.Errorf("%s: profiles[%d] (%s): %w", path, i, pf.Name, err)
		}
		s.Profiles = append(s.Profiles, p)
	}
	if s.Keys, err = keysOf(f.Keys); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func (pf profileFile) profile() (Profile, error) {
	if err := ValidName(pf.Name); err != nil {
		return Profile{}, err
	}
	p := Profile{Name: pf.Name, Account: provision.Account{ServerID: pf.ServerID, User: pf.User, Host: pf.Host,
		BindSource: pf.BindSource, Knock: pf.Knock, Fleet: pf.Fleet}}
	var err error
	if p.Secret, err = derive.DecodeSecret(pf.Secret); err != nil {
		return Profile{}, derive.Rename(err, derive.Field.Key)
	}
	if p.Params, err = pf.Fields.Params(); err != nil {
		return Profile{}, derive.Rename(err, derive.Field.Key)
	}
	for j, o := range pf.Open {
		k, err := derive.ParseService(o)
		if err != nil {
			return Profile{}, fmt.Errorf("open[%d]: %w", j, err)
		}
		p.Open = append(p.Open, k)
	}
	if err := checkScope(p); err != nil {
		return Profile{}, err
	}
	if err := pf.authOf(&p); err != nil {
		return Profile{}, err
	}
	if p.Knock == derive.ModePacket {
		if _, err := derive.PacketElement(p.Auth, p.Secret, p.scopeID(), p.Params, 0); err != nil {
			return Profile{}, fmt.Errorf("knock: packet: %w", err)
		}
	}
	return p, nil
}

// Save writes the store atomically with mode 0600, creating its directory
// with mode 0700.
func (s *Store) Save() error {
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return fmt.Errorf("creating the profile directory: %w", err)
	}
	f := storeFile{Profiles: []profileFile{}, Keys: keyFiles(s.Keys)}
	for _, p := range s.Profiles {
		pf := profileFile{Name: p.Name, ServerID: p.ServerID, User: p.User, Host: p.Host,
			Secret: derive.EncodeSecret(p.Secret), Fields: derive.FieldsOf(p.Params), BindSource: p.BindSource, Knock: p.Knock, Fleet: p.Fleet, Open: []string{}}
		for _, k := range p.Open {
			pf.Open = append(pf.Open, k.String())
		}
		if p.Auth == derive.AuthEd25519 {
			pf.Auth, pf.PrivateKey = p.Auth.String(), encodeSeed(p.PrivateKey)
		}
		f.Profiles = append(f.Profiles, pf)
	}
	var b bytes.Buffer
	b.WriteString("# otpknock client profiles: they hold secrets, keep this file private (mode 0600).\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return err
	}
	return safefile.Write(s.Path, b.Bytes(), 0o600)
}

// Add adds p; a profile of the same name is an error.
func (s *Store) Add(p Profile) error {
	if err := ValidName(p.Name); err != nil {
		return err
	}
	if _, err := s.Get(p.Name); err == nil {
		return fmt.Errorf("a profile named %q exists: choose another with --name, or remove it first (otpknock profiles remove %s)", p.Name, p.Name)
	}
	s.Profiles = append(s.Profiles, p)
	sort.SliceStable(s.Profiles, func(i, j int) bool { return s.Profiles[i].Name < s.Profiles[j].Name })
	return nil
}

// DefaultName proposes a free name for an imported account: its server
// id, else user@server.
func (s *Store) DefaultName(a provision.Account) string {
	scope := a.ServerID
	if a.Fleet != "" {
		scope = a.Fleet
	}
	if _, err := s.Get(scope); err != nil {
		return scope
	}
	return a.User + "@" + scope
}

// Remove deletes the profile called name.
func (s *Store) Remove(name string) error {
	i := slices.IndexFunc(s.Profiles, func(p Profile) bool { return p.Name == name })
	if i < 0 {
		return s.notFound(name)
	}
	s.Profiles = slices.Delete(s.Profiles, i, i+1)
	return nil
}

// Rename gives the profile called old the name new, which must be a
// valid name no other profile has.
func (s *Store) Rename(old, new string) error {
	i := slices.IndexFunc(s.Profiles, func(p Profile) bool { return p.Name == old })
	if i < 0 {
		return s.notFound(old)
	}
	if err := ValidName(new); err != nil {
		return err
	}
	if old == new {
		return fmt.Errorf("profile %q already has that name", old)
	}
	if _, err := s.Get(new); err == nil {
		return fmt.Errorf("a profile named %q exists: choose another name, or remove it first", new)
	}
	s.Profiles[i].Name = new
	sort.SliceStable(s.Profiles, func(i, j int) bool { return s.Profiles[i].Name < s.Profiles[j].Name })
	return nil
}

// Imported returns the name of the profile that holds the account a:
// the same server, user and secret.
func (s *Store) Imported(a provision.Account) (string, bool) {
	for _, p := range s.Profiles {
		if p.ServerID == a.ServerID && p.Fleet == a.Fleet && p.User == a.User && bytes.Equal(p.Secret, a.Secret) {
			return p.Name, true
		}
	}
	return "", false
}

// Get returns the profile called name.
func (s *Store) Get(name string) (Profile, error) {
	for _, p := range s.Profiles {
		if p.Name == name {
			return p, nil
		}
	}
	return Profile{}, s.notFound(name)
}

// Lookup finds a profile by name, else by host when exactly one profile
// knocks that host. An empty target picks the only profile.
func (s *Store) Lookup(target string) (Profile, error) {
	if target == "" {
		if len(s.Profiles) == 1 {
			return s.Profiles[0], nil
		}
		return Profile{}, s.notFound("")
	}
	if p, err := s.Get(target); err == nil {
		return p, nil
	}
	var hits []Profile
	for _, p := range s.Profiles {
		if strings.EqualFold(p.Host, target) {
			hits = append(hits, p)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return Profile{}, s.notFound(target)
	}
	return Profile{}, fmt.Errorf("%d profiles knock %s: name one of them (%s)", len(hits), target, names(hits))
}

func (s *Store) notFound(name string) error {
	if len(s.Profiles) == 0 {
		return fmt.Errorf("no profiles in %s: import one with otpknock import URI|FILE.png", s.Path)
	}
	if name == "" {
		return fmt.Errorf("%d profiles in %s: name one (%s)", len(s.Profiles), s.Path, names(s.Profiles))
	}
	return fmt.Errorf("no profile %q in %s (have: %s)", name, s.Path, names(s.Profiles))
}

func names(ps []Profile) string {
	n := make([]string, len(ps))
	for i, p := range ps {
		n[i] = p.Name
	}
	return strings.Join(n, ", ")
}
