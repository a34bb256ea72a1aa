package config

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// checkExclude refuses an exclude entry that is not a port from 1 to
// 65535 (docs/spec.md sections 1 and 8), before the decoder reads the
// list into 16-bit ports: there 0 would pass and later be dropped as
// outside the knock range, and 65536 or -1 would fail with a message
// about numbers that names no port. Anything else wrong with the
// document is left to the decoder to report.
func checkExclude(data []byte) error {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	root := doc.Content[0].Content
	for i := 0; i+1 < len(root); i += 2 {
		if root[i].Value != "exclude" || root[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for _, n := range root[i+1].Content {
			var port int64
			if n.Kind != yaml.ScalarNode || n.Decode(&port) != nil || port < 1 || port > 65535 {
				return fmt.Errorf("exclude: line %d: %q is not a port: exclude lists ports from 1 to 65535", n.Line, n.Value)
			}
		}
	}
	return nil
}
