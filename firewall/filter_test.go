package firewall

import (
	"testing"
	"time"
)

func TestTTLSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want uint32
	}{{0, 1}, {-time.Second, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {90 * time.Second, 90}} {
		if got := ttlSeconds(tc.d); got != tc.want {
			t.Errorf("ttlSeconds(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
