package config

import (
	"bytes"
	"fmt"
	"os"

	"github.com/otpknock/otpknock/derive"
	"github.com/otpknock/otpknock/internal/safefile"
	"go.yaml.in/yaml/v3"
)

// NewUser is a user to add to the config file.
type NewUser struct {
	Name       string
	Open       []string
	From       []string
	BindSource bool
	Knock      derive.Mode // written only for packet users
	PublicKey  string      // an ed25519 packet user's key line: auth: ed25519 is written with it
	// GrantPrefix is written as grant_prefix when it opens more than
	// the address.
	GrantPrefix GrantPrefix
}

// AddUser appends u to the users of the config file at path, keeping the
// file's comments, and returns the config as now written. The whole file
// is validated before it is replaced.
func AddUser(path string, u NewUser) (*Config, error) {
	e, err := PrepareAddUser(path, u)
	if err != nil {
		return nil, err
	}
	return e.Config, e.Write()
}

// PrepareAddUser is AddUser without the write: it returns the validated
// edit, the config as it would be, and writes nothing.
func PrepareAddUser(path string, u NewUser) (*Edit, error) {
	return prepare(path, func(c *Config, users *yaml.Node) error {
		if _, ok := c.User(u.Name); ok {
			return fmt.Errorf("user %q already exists", u.Name)
		}
		var n yaml.Node
		if err := n.Encode(u.file()); err != nil {
			return err
		}
		users.Content = append(users.Content, &n)
		return nil
	})
}

// file is u as the config file spells it: no knock field for a
// sequence user, the default.
func (u NewUser) file() userFile {
	uf := userFile{Name: u.Name, Open: u.Open, From: u.From, BindSource: u.BindSource}
	if u.Knock == derive.ModePacket {
		uf.Knock = u.Knock.String()
	}
	if u.PublicKey != "" {
		uf.Auth, uf.PublicKey = derive.AuthEd25519.String(), u.PublicKey
	}
	if !u.GrantPrefix.IsZero() {
		g := u.GrantPrefix
		uf.GrantPrefix = &g
	}
	return uf
}

// RemoveUser deletes the user called name from the config file at path.
func RemoveUser(path, name string) (*Config, error) {
	return edit(path, func(c *Config, users *yaml.Node) error {
		for i, n := range users.Content {
			var uf userFile
			if n.Decode(&uf) == nil && uf.Name == name {
				users.Content = append(users.Content[:i], users.Content[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("no user %q in %s", name, path)
	})
}

// Edit is a validated edit of a config file, not yet written.
type Edit struct {
	// Config is the config as the edit writes it.
	Config *Config
	data   []byte
	orig   os.FileInfo
}

// Write replaces the file with the edit, keeping its mode and owner. Its
// error is a *WriteError.
func (e *Edit) Write() error {
	if err := safefile.WriteOwned(e.Config.Path, e.data, e.orig.Mode().Perm(), e.orig); err != nil {
		return &WriteError{Path: e.Config.Path, Err: err}
	}
	return nil
}

// edit prepares an edit of the users and writes it.
func edit(path string, change func(*Config, *yaml.Node) error) (*Config, error) {
	e, err := prepare(path, change)
	if err != nil {
		return nil, err
	}
	return e.Config, e.Write()
}

// prepare loads the file as a node tree, lets change edit the users
// sequence, then validates the result.
func prepare(path string, change func(*Config, *yaml.Node) error) (*Edit, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	old, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, users, err := usersNode(&doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := change(old, users); err != nil {
		return nil, err
	}
	users.Style = 0 // block style, also when the file said users: []
	out, err := render(data, &doc, key, users)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", path, err)
	}
	buf := bytes.NewBuffer(out)
	c, err := Parse(buf.Bytes(), path)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	return &Edit{Config: c, data: buf.Bytes(), orig: st}, nil
}

// WriteError is the failure to write a valid edit of the config file:
// the file is unchanged, the edit was not refused.
type WriteError struct {
	Path string
	Err  error
}

func (e *WriteError) Error() string { return fmt.Sprintf("writing %s: %v", e.Path, e.Err) }

// Unwrap returns the cause.
func (e *WriteError) Unwrap() error { return e.Err }

// usersNode finds the users key and sequence in the document, adding an
// empty one if the file has none.
func usersNode(doc *yaml.Node) (key, seq *yaml.Node, err error) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("the top level must be a mapping of keys such as server_id and users")
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "users" {
			continue
		}
		v := m.Content[i+1]
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			v.Kind, v.Tag, v.Value = yaml.SequenceNode, "!!seq", ""
		}
		if v.Kind != yaml.SequenceNode {
			return nil, nil, fmt.Errorf("users: must be a list")
		}
		return m.Content[i], v, nil
	}
	key = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "users"}
	seq = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	m.Content = append(m.Content, key, seq)
	return key, seq, nil
}

// render writes the edited document. The encoder drops blank lines, so
// only the users key and its list are encoded again and spliced into
// the file's text, whose other lines (blank ones, comments) stay as
// they were. A document whose top level is not a block mapping is
// encoded whole.
func render(data []byte, doc, key, users *yaml.Node) ([]byte, error) {
	if doc.Content[0].Style&yaml.FlowStyle != 0 || key.Line > 0 && key.Column != 1 {
		return encode(doc)
	}
	head := key.HeadComment
	key.HeadComment = "" // it stays in the text above the key
	block, err := encode(&yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{key, users}})
	key.HeadComment = head
	if err != nil {
		return nil, err
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if key.Line == 0 { // no users key: append one
		out := bytes.Clone(data)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		return append(out, block...), nil
	}
	start, end := key.Line-1, usersEnd(lines, key.Line-1)
	var out []byte
	for _, l := range lines[:start] {
		out = append(out, l...)
	}
	out = append(out, block...)
	for _, l := range lines[end:] {
		out = append(out, l...)
	}
	return out, nil
}

// usersEnd returns the index of the first line after the users key at
// line start and its list: the list's lines are indented or start with
// "-"; blank lines and comments between them belong to it, those after
// the last belong to what follows.
func usersEnd(lines [][]byte, start int) int {
	end := start + 1
	for i := start + 1; i < len(lines); i++ {
		l := lines[i]
		if len(bytes.TrimSpace(l)) == 0 || l[0] == '#' {
			continue
		}
		if l[0] != ' ' && l[0] != '\t' && l[0] != '-' {
			break // the next key
		}
		end = i + 1
	}
	return end
}

func encode(n *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
