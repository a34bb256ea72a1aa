package yamlerr

import (
	"reflect"
	"strings"
)

// fieldsAt returns the YAML field names of the mapping at path (such as
// "users[0]" or "" for the top) in the type of v, whose yaml tags name
// them; nil when path leads to no struct.
func fieldsAt(v any, path string) []string {
	t := reflect.TypeOf(v)
	for _, seg := range segments(path) {
		for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			t = t.Elem()
		}
		if t == nil {
			return nil
		}
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem() // seg is a key of the map
		case reflect.Struct:
			t = fieldType(t, seg)
		default:
			return nil
		}
	}
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	return names(t)
}

// segments splits "users[0].open" into "users", "open": list indexes
// change nothing of the type but the element.
func segments(path string) []string {
	if path == "" {
		return nil
	}
	var out []string
	for _, s := range strings.Split(path, ".") {
		s, _, _ = strings.Cut(s, "[")
		out = append(out, s)
	}
	return out
}

// fieldType is the type of the field of struct t named name in YAML,
// looking into inline fields; nil when there is none.
func fieldType(t reflect.Type, name string) reflect.Type {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if strings.Contains(opts, "inline") {
			if ft := fieldType(f.Type, name); ft != nil {
				return ft
			}
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		if tag == name {
			return f.Type
		}
	}
	return nil
}

// names lists the YAML names of struct t's fields, inline ones
// included.
func names(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct:
			out = append(out, names(f.Type)...)
		case tag == "-", !f.IsExported():
		case tag == "":
			out = append(out, strings.ToLower(f.Name))
		default:
			out = append(out, tag)
		}
	}
	return out
}

// closest returns the name of known nearest to name, when it is near
// enough to be a misspelling of it: at most a third of its letters
// (at least one) differ.
func closest(name string, known []string) string {
	best, bestD := "", max(1, len(name)/3)+1
	for _, k := range known {
		if d := distance(strings.ToLower(name), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the edit distance of a and b in bytes, a swap of two
// neighbours counting as one edit (optimal string alignment).
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
