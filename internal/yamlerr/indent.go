package yamlerr

import (
	"strings"
)

// misindented returns the first line, from line from on (1-based), whose
// indentation lines up with no key or list item open above it: where a
// block mapping or list really breaks, when the parser names the line
// the block starts on. 0 when every line lines up.
func misindented(data []byte, from int) (int, string) {
	open := []int{0} // the columns of the blocks open above, innermost last
	opens := false   // the line above ends in a key that opens a block
	for i, raw := range strings.Split(string(data), "\n") {
		text := strings.TrimLeft(raw, " ")
		if t := strings.TrimSpace(text); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		col := len(raw) - len(text)
		if opens && col > open[len(open)-1] {
			open = append(open, col)
		} else {
			for len(open) > 1 && open[len(open)-1] > col {
				open = open[:len(open)-1]
			}
			if open[len(open)-1] != col {
				if i+1 >= from {
					return i + 1, strings.TrimSpace(raw)
				}
				open = append(open, col) // before the error: take it as it is
			}
		}
		for strings.HasPrefix(text, "- ") { // a list item: its mapping's keys line up after "- "
			rest := strings.TrimLeft(text[2:], " ")
			col += len(text) - len(rest)
			text = rest
			open = append(open, col)
		}
		opens = strings.HasSuffix(strings.TrimSpace(stripComment(text)), ":")
	}
	return 0, ""
}

// stripComment drops a trailing " #" comment of a line.
func stripComment(s string) string {
	if i := strings.Index(s, " #"); i >= 0 {
		return s[:i]
	}
	return s
}
