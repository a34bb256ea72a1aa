package daemon

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// FuzzLoadState reads arbitrary state files, of either version, with
// any step length: an error, or a state that saves as version 2 and
// loads back unchanged whatever the step length, never a panic.
func FuzzLoadState(f *testing.F) {
	f.Add([]byte(`{"version":2,"last_step_start":{"alice":1795573650,"bob":18446744073709551615}}`), uint16(30))
	f.Add([]byte(`{"version":1,"last_step":{"alice":59852455,"bob":18446744073709551615}}`), uint16(60))
	f.Add([]byte(`{"version":1,"last_step_start":{"alice":1}}`), uint16(30))
	f.Add([]byte(`{"version":2,"last_step":{"alice":1}}`), uint16(30))
	f.Add([]byte(`{"version":2}`), uint16(1))
	f.Add([]byte(`{"version":1}`), uint16(3600))
	f.Add([]byte(`{"version":3,"last_step_start":{}}`), uint16(30))
	f.Add([]byte(`{}`), uint16(30))
	f.Add([]byte(`[1,2,3]`), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, seconds uint16) {
		period := time.Duration(seconds) * time.Second
		dir := t.TempDir()
		path := filepath.Join(dir, "state.json")
		os.WriteFile(path, data, 0o600)
		got, _, err := LoadState(path, period)
		if err != nil {
			return
		}
		again := filepath.Join(dir, "again.json")
		if err := SaveState(again, got); err != nil {
			t.Fatal(err)
		}
		for _, p := range []time.Duration{period, time.Second, 7 * time.Second} {
			back, legacy, err := LoadState(again, p)
			if err != nil || legacy {
				t.Fatalf("LoadState(saved, %v) = %v, legacy %v", p, err, legacy)
			}
			if diff := cmp.Diff(got, back); diff != "" {
				t.Fatalf("round trip with step %v (-want +got):\n%s", p, diff)
			}
		}
		// The steps of the loading period, turned back into times, never
		// move a user's last used step later.
		for name, t0 := range UsedSteps(got.Steps(period), period) {
			if period >= time.Second && t0 > got[name] {
				t.Fatalf("%s: step start %d after the saved time %d", name, t0, got[name])
			}
		}
	})
}
