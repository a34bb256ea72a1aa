package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// lineRE is compiled on first use: only a config with a type error needs
// it, and the client commands link this package.
var lineRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^line (\d+): `) })

// explain rewrites yaml's type errors ("line 7: cannot unmarshal ...") to
// name the field at that line ("line 7: users[0].open: cannot ...").
func explain(data []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return err
	}
	paths := map[int]string{}
	walk(&doc, "", paths)
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		if sm := lineRE().FindStringSubmatch(m); sm != nil {
			n, _ := strconv.Atoi(sm[1])
			if p, ok := paths[n]; ok {
				m = fmt.Sprintf("line %d: %s: %s", n, p, m[len(sm[0]):])
			}
		}
		msgs = append(msgs, m)
	}
	return errors.New(strings.Join(msgs, "; "))
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
