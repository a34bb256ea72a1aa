package yamlerr

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type inner struct {
	Name string        `yaml:"name"`
	Open []string      `yaml:"open"`
	Step time.Duration `yaml:"step"`
}

type doc struct {
	Step    time.Duration `yaml:"step"`
	Knocks  int           `yaml:"knocks"`
	Host    string        `yaml:"host"`
	Bind    bool          `yaml:"bind"`
	Entries []inner       `yaml:"entries"`
}

// decode decodes data strictly, as config and profile do, and explains
// the error.
func decode(data string) error {
	dec := yaml.NewDecoder(bytes.NewReader([]byte(data)))
	dec.KnownFields(true)
	var d doc
	if err := dec.Decode(&d); err != nil {
		return Explain([]byte(data), err)
	}
	return nil
}

func TestExplain(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"duration without unit", "step: 30\n", "line 1: step: 30 is not a duration: add a unit, e.g. 30s"},
		{"nested duration", "entries:\n  - name: a\n    step: 5\n", "line 3: entries[0].step: 5 is not a duration: add a unit, e.g. 5s"},
		{"unknown field", "knocks: 4\nbogus: 1\n", "line 2: unknown field bogus"},
		{"unknown fields in two entries", "entries:\n  - name: a\n    profileFile: x\n  - name: b\n    profileFile: y\n",
			"line 3: unknown field profileFile; line 5: unknown field profileFile"},
		{"list for a string", "host: [2001:db8::1]\n", "line 1: host: a list where one value belongs"},
		{"text for a number", "knocks: four\n", "line 1: knocks: text (four) where a number belongs"},
		{"text for a bool", "bind: maybe\n", "line 1: bind: text (maybe) where true or false belongs"},
		{"string for a list", "entries:\n  - name: a\n    open: tcp/22\n", "line 3: entries[0].open: text (tcp/22) where a list belongs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decode(tt.data)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n %v\nwant\n %s", err, tt.want)
			}
		})
	}
	other := errors.New("yaml: line 1: did not find expected key")
	if got := Explain(nil, other); got != other {
		t.Errorf("a syntax error was rewritten: %v", got)
	}
}

// TestExplainSuggests: an unknown field names the known field of its
// own mapping it is likely a misspelling of, and nothing when none is
// near.
func TestExplainSuggests(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"top level", "knocks: 4\nknoks: 5\n", "line 2: unknown field knoks (did you mean knocks?)"},
		{"nested, its own mapping's field", "entries:\n  - name: a\n    opne: [tcp/22]\n", "line 3: unknown field opne (did you mean open?)"},
		{"case", "Host: h\n", "line 1: unknown field Host (did you mean host?)"},
		{"nothing near", "knocks: 4\nfirewall: nft\n", "line 2: unknown field firewall"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := yaml.NewDecoder(bytes.NewReader([]byte(tt.data)))
			dec.KnownFields(true)
			var d doc
			err := ExplainFor([]byte(tt.data), dec.Decode(&d), &d)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n %v\nwant\n %s", err, tt.want)
			}
		})
	}
}

// TestExplainIndentation: a line whose indentation lines up with
// nothing above it is named, where the parser names the line its block
// starts on.
func TestExplainIndentation(t *testing.T) {
	tests := []struct {
		name, data string
		line       string // the line the error names, "" for the parser's error unchanged
	}{
		{"key indented one too few", "knocks: 4\nentries:\n  - name: a\n    open: [tcp/22]\n   step: 5s\nhost: h\n", "line 5: "},
		{"key indented too far", "knocks: 4\nentries:\n  - name: a\n    open: [tcp/22]\n      step: 5s\n", "line 5: "},
		{"list item one too far", "entries:\n- name: a\n  open: [tcp/22]\n - name: b\n", "line 4: "},
		{"after comments and blank lines", "knocks: 4\nentries:\n  # alice\n  - name: a\n\n    open: [tcp/22]\n     step: 5s\n", "line 7: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			raw := yaml.Unmarshal([]byte(tt.data), &d)
			if raw == nil {
				t.Fatal("the document parses")
			}
			err := Explain([]byte(tt.data), raw)
			if !strings.HasPrefix(err.Error(), tt.line) || !strings.Contains(err.Error(), "indentation") {
				t.Errorf("error %v (the parser's: %v), want it to start %q and name the indentation", err, raw, tt.line)
			}
		})
	}
}
