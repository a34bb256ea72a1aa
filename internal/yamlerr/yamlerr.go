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
	line, element, unknown, duration, kind *regexp.Regexp
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
	}
})

// Explain rewrites yaml's decoding errors into one line that names the
// line and the field ("line 7: users[0].open: ...") and says what is
// wrong in the file's terms: an unknown field, a duration without a
// unit, a list where one value belongs. Several errors are joined with
// "; ". Other errors are returned as they are.
func Explain(data []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
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
			if ok && !strings.HasPrefix(m, "unknown field") {
				m = p + ": " + m
			}
			m = fmt.Sprintf("line %d: %s", n, m)
		}
		msgs = append(msgs, m)
	}
	return errors.New(strings.Join(msgs, "; "))
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
