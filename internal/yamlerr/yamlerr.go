package yamlerr

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// patterns are the expressions Explain reads the decoder's messages
// with, whose Go type names mean nothing to whoever edits the file.
type patterns struct {
	line, element, unknown, duration, kind, block *regexp.Regexp
}

// compiled compiles the patterns on first use: only a file with an
// error needs them, and every command links this package.
var compiled = sync.OnceValue(func() *patterns {
	return &patterns{
		line:     regexp.MustCompile(`^line (\d+): `),
		element:  regexp.MustCompile(`\[\d+\]$`),
		unknown:  regexp.MustCompile(`^field (\S+) not found in type \S+$`),
		duration: regexp.MustCompile("^cannot unmarshal !!(?:int|float) `([^`]*)` into time.Duration$"),
		kind:     regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `([^`]*)`)? into (.+)$"),
		block:    regexp.MustCompile(`^yaml: line (\d+): did not find expected (?:key|'-' indicator)$`),
	}
})

// Explain rewrites yaml's decoding errors into one line that names the
// line and the field ("line 7: users[0].open: ...") and says what is
// wrong in the file's terms: an unknown field, a duration without a
// unit, a list where one value belongs. Several errors are joined with
// "; ". A block that breaks because a line's indentation lines up with
// nothing above it is reported at that line, not where the block
// starts. Other errors are returned as they are.
func Explain(data []byte, err error) error { return ExplainFor(data, err, nil) }

// ExplainFor is Explain for a document decoded into v (a struct, or a
// pointer to one, with yaml tags): an unknown field also names the
// known field of its mapping it is likely a misspelling of ("unknown
// field open_timout (did you mean open_timeout?)").
func ExplainFor(data []byte, err error, v any) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return explainSyntax(data, err)
	}
	var doc yaml.Node
	paths := map[int]string{}
	if yaml.Unmarshal(data, &doc) == nil {
		walk(&doc, "", paths)
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		if sm := compiled().line.FindStringSubmatch(m); sm != nil {
			n, _ := strconv.Atoi(sm[1])
			p, ok := paths[n]
			if strings.HasPrefix(m[len(sm[0]):], "cannot unmarshal !!seq") {
				// The line's path is the list's first element: name the list.
				p = compiled().element.ReplaceAllString(p, "")
			}
			m = plain(m[len(sm[0]):])
			if name, ok := strings.CutPrefix(m, "unknown field "); ok && v != nil {
				parent, _ := splitPath(p)
				if k := closest(name, fieldsAt(v, parent)); k != "" {
					m += fmt.Sprintf(" (did you mean %s?)", k)
				}
			}
			if ok && !strings.HasPrefix(m, "unknown field") {
				m = p + ": " + m
			}
			m = fmt.Sprintf("line %d: %s", n, m)
		}
		msgs = append(msgs, m)
	}
	return errors.New(strings.Join(msgs, "; "))
}

// explainSyntax names the line a block breaks at, when the parser
// names the line it starts at; other errors are returned as they are.
func explainSyntax(data []byte, err error) error {
	if err == nil {
		return nil
	}
	sm := compiled().block.FindStringSubmatch(err.Error())
	if sm == nil {
		return err
	}
	start, _ := strconv.Atoi(sm[1])
	n, text := misindented(data, start)
	if n == 0 {
		return err
	}
	return fmt.Errorf("line %d: indentation: %q lines up with no key or list item above it (the block starts on line %d; indent with spaces, the keys of one mapping alike)", n, text, start)
}

// splitPath splits a value's path into its mapping's path and its key:
// "users[0].open" into "users[0]" and "open".
func splitPath(p string) (parent, key string) {
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i], p[i+1:]
	}
	return "", p
}

// plain says one decoder message without Go's type names.
func plain(m string) string {
	if sm := compiled().unknown.FindStringSubmatch(m); sm != nil {
		return fmt.Sprintf("unknown field %s", sm[1])
	}
	if sm := compiled().duration.FindStringSubmatch(m); sm != nil {
		return fmt.Sprintf("%s is not a duration: add a unit, e.g. %ss", sm[1], sm[1])
	}
	if sm := compiled().kind.FindStringSubmatch(m); sm != nil {
		got := map[string]string{"seq": "a list", "map": "a mapping", "str": "text", "int": "a number",
			"float": "a number", "bool": "true or false", "null": "nothing"}[sm[1]]
		if got == "" {
			got = sm[1]
		}
		if sm[2] != "" {
			got += " (" + sm[2] + ")"
		}
		return fmt.Sprintf("%s where %s belongs", got, want(sm[3]))
	}
	return m
}

// want names what a Go type holds, in the terms of the file.
func want(goType string) string {
	switch {
	case goType == "time.Duration":
		return "a duration such as 30s"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "a mapping"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	}
	return "one value"
}

// walk records, for each line holding a value, the path of that value.
func walk(n *yaml.Node, path string, out map[int]string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walk(c, path, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			if _, ok := out[n.Content[i+1].Line]; !ok || n.Content[i+1].Kind == yaml.ScalarNode {
				out[n.Content[i+1].Line] = p
			}
			walk(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			if c.Kind == yaml.ScalarNode {
				out[c.Line] = p
			}
			walk(c, p, out)
		}
	}
}
