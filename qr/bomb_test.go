package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// finderTiles returns a side x side PNG tiled with QR finder patterns
// (7 x 7 modules: a dark ring of 1, a light ring of 1, a dark core of 3,
// then a light module), in bands of tiles whose module (in pixels)
// cycles through modules. Patterns of different sizes keep the reader's
// finder search from ever deciding it has found a code's three, so it
// collects every pattern as a candidate: with modules 1 to 4, some 50,000
// of them. The PNG compresses to a few dozen KiB.
func finderTiles(t testing.TB, side int, modules []int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y0, band := 0, 0; y0 < side; band++ {
		m := modules[band%len(modules)]
		for y := y0; y < min(y0+8*m, side); y++ {
			for x := range side {
				mx, my := (x%(8*m))/m, (y-y0)/m
				if mx < 7 && my < 7 && min(mx, my, 6-mx, 6-my) != 1 {
					img.SetGray(x, y, color.Gray{})
				}
			}
		}
		y0 += 8 * m
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDecodeBomb: PNGs of 4096 x 4096 pixels tiled with finder patterns
// are refused as too complex within a few seconds (today's reader spent
// minutes on the first and the last). OTPKNOCK_QR_BOMB_WAIT (a duration)
// waits longer, to measure a reader without the bound;
// OTPKNOCK_QR_BOMB_DIR names a directory to write the PNGs in.
func TestDecodeBomb(t *testing.T) {
	limit := 5 * time.Second
	if v := os.Getenv("OTPKNOCK_QR_BOMB_WAIT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("OTPKNOCK_QR_BOMB_WAIT: %v", err)
		}
		limit = d
	}
	for _, modules := range [][]int{{1, 2, 3, 4}, {2, 3}, {3, 5, 7}, {1, 2}} {
		t.Run(fmt.Sprintf("modules %v px", modules), func(t *testing.T) {
			data := finderTiles(t, MaxPNGSide, modules)
			if dir := os.Getenv("OTPKNOCK_QR_BOMB_DIR"); dir != "" { // for trying the command on them
				name := filepath.Join(dir, fmt.Sprintf("bomb-%v.png", modules))
				if err := os.WriteFile(name, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			done := make(chan error, 1)
			go func() { _, err := DecodePNG(data); done <- err }()
			select {
			case err := <-done:
				d := time.Since(start)
				t.Logf("%d KiB PNG refused in %v: %v", len(data)>>10, d.Round(time.Millisecond), err)
				if !errors.Is(err, ErrTooComplex) {
					t.Errorf("DecodePNG() error = %v, want ErrTooComplex", err)
				}
			case <-time.After(limit):
				t.Fatalf("%d KiB PNG still decoding after %v", len(data)>>10, limit)
			}
		})
	}
}

// TestDecodeLargeCode: a real code drawn at the largest side accepted
// reads back, as do the codes PNG draws (TestQRPNGsScan): the bound on
// candidates leaves them alone.
func TestDecodeLargeCode(t *testing.T) {
	uri, _ := accounts()["defaults"].URI()
	data, err := PNG(uri, MaxPNGSide)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := DecodePNG(data)
	if err != nil || got != uri {
		t.Fatalf("DecodePNG() = %q, %v, want %q", got, err, uri)
	}
	t.Logf("%dx%d code read in %v", MaxPNGSide, MaxPNGSide, time.Since(start).Round(time.Millisecond))
}
