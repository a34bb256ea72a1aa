package provision

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestSpecVersion keeps the protocol's version in one place in effect
// (spec section 9.5): the spec's title, the current row of its version
// table, the otpknock value this package writes, and the version field
// and name of every vector file must agree. A change to derivation or
// the wire raises them together, or this fails.
func TestSpecVersion(t *testing.T) {
	spec, err := os.ReadFile("../docs/spec.md")
	if err != nil {
		t.Fatal(err)
	}
	title := regexp.MustCompile(`(?m)\A# otpknock .*, version ([0-9]+)\n`).FindSubmatch(spec)
	if title == nil {
		t.Fatal(`docs/spec.md: no title "# otpknock ..., version N" on the first line`)
	}
	current := regexp.MustCompile("(?m)^\\| ([0-9]+) \\| `([0-9]+)` \\|.*\\| current \\|$").FindAllSubmatch(spec, -1)
	if len(current) != 1 {
		t.Fatalf("docs/spec.md: %d rows of the version table (section 9.5) marked current, want 1", len(current))
	}
	versions := map[string]string{
		"spec title":                       string(title[1]),
		"version table, current row":       string(current[0][1]),
		"version table, otpknock value":    string(current[0][2]),
		"provision.Version (URIs written)": strconv.Itoa(Version),
	}
	files, err := filepath.Glob("../testdata/*_v*.json")
	if err != nil || len(files) < 4 {
		t.Fatalf("vector files: %v, %v; want derive, errors, packet and uri", files, err)
	}
	name := regexp.MustCompile(`_v([0-9]+)(_[a-z]+)?\.json$`)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			Version *int `json:"version"`
		}
		if err := json.Unmarshal(raw, &head); err != nil || head.Version == nil {
			t.Errorf("%s: no version field (%v)", f, err)
			continue
		}
		versions[filepath.Base(f)+" version field"] = strconv.Itoa(*head.Version)
		if m := name.FindStringSubmatch(f); m != nil {
			versions[filepath.Base(f)+" name"] = m[1]
		}
	}
	want := versions["spec title"]
	for where, v := range versions {
		if v != want {
			t.Errorf("%s: version %s, the spec's title says %s", where, v, want)
		}
	}
}

// TestVectorCounts keeps testdata/README.md's table of vector counts
// true: each file's row names the number of vectors it holds, and the
// total is their sum.
func TestVectorCounts(t *testing.T) {
	readme, err := os.ReadFile("../testdata/README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile("(?m)^\\| `([a-z0-9_]+\\.json)` \\| [^|]* \\| ([0-9]+)").FindAllSubmatch(readme, -1)
	if len(rows) < 5 {
		t.Fatalf("testdata/README.md: %d rows with a count, want one per vector file", len(rows))
	}
	total := 0
	for _, r := range rows {
		raw, err := os.ReadFile(filepath.Join("../testdata", string(r[1])))
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Vectors []json.RawMessage `json:"vectors"`
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("%s: %v", r[1], err)
		}
		if got := strconv.Itoa(len(f.Vectors)); got != string(r[2]) {
			t.Errorf("%s holds %s vectors, testdata/README.md says %s", r[1], got, r[2])
		}
		total += len(f.Vectors)
	}
	for _, doc := range []string{"../testdata/README.md", "../docs/spec.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`([0-9]+) (?:vectors )?in all`).FindSubmatch(b)
		if m == nil || string(m[1]) != strconv.Itoa(total) {
			t.Errorf("%s: total %q, the files hold %d", doc, m, total)
		}
	}
}
