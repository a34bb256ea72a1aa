package daemon

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzLoadState reads arbitrary state files: an error or a state that
// saves and loads back unchanged, never a panic.
func FuzzLoadState(f *testing.F) {
	f.Add([]byte(`{"version":1,"last_step":{"alice":59852455,"bob":18446744073709551615}}`))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":2,"last_step":{}}`))
	f.Add([]byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "state.json")
		os.WriteFile(path, data, 0o600)
		got, err := LoadState(path)
		if err != nil {
			return
		}
		again := filepath.Join(dir, "again.json")
		if err := SaveState(again, got); err != nil {
			t.Fatal(err)
		}
		back, err := LoadState(again)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, back); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	})
}
