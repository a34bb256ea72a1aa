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
	users, err := usersNode(&doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := change(old, users); err != nil {
		return nil, err
	}
	users.Style = 0 // block style, also when the file said users: []
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", path, err)
	}
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

// usersNode finds the users sequence in the document, adding an empty one
// if the file has none.
func usersNode(doc *yaml.Node) (*yaml.Node, error) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the top level must be a mapping of keys such as server_id and users")
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
			return nil, fmt.Errorf("users: must be a list")
		}
		return v, nil
	}
	key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "users"}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	m.Content = append(m.Content, key, seq)
	return seq, nil
}
