package qr

import (
	"bytes"
	"image"
	"image/color"
	"strconv"
	"strings"
	"testing"
)

// theme is how a terminal shows text whose colors are not set: its
// default foreground and background, as grey levels.
type theme struct {
	name   string
	fg, bg uint8
}

var themes = []theme{{"dark", 0xd8, 0x18}, {"light", 0x20, 0xfa}}

// defaultColor marks a cell color left to the terminal's theme.
const defaultColor = -1

// cell is one character cell of terminal output: its glyph and its
// foreground and background colors (256-color indexes or defaultColor).
type cell struct {
	r      rune
	fg, bg int
}

// parseCells reads terminal output into rows of cells, following the
// SGR escapes a QR code may use: reset, 256-color foreground and
// background, and the 16 base colors.
func parseCells(t *testing.T, s string) [][]cell {
	t.Helper()
	var rows [][]cell
	var row []cell
	fg, bg := defaultColor, defaultColor
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '\x1b':
			end := i + 2
			for end < len(rs) && rs[end] != 'm' {
				end++
			}
			if i+1 >= len(rs) || rs[i+1] != '[' || end >= len(rs) {
				t.Fatalf("escape sequence other than SGR at %d: %q", i, string(rs[i:min(i+12, len(rs))]))
			}
			fg, bg = applySGR(t, string(rs[i+2:end]), fg, bg)
			i = end
		case r == '\n':
			rows, row = append(rows, row), nil
		default:
			row = append(row, cell{r, fg, bg})
		}
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	return rows
}

func applySGR(t *testing.T, params string, fg, bg int) (int, int) {
	t.Helper()
	ps := strings.Split(params, ";")
	for i := 0; i < len(ps); i++ {
		n, _ := strconv.Atoi(ps[i])
		switch {
		case n == 0:
			fg, bg = defaultColor, defaultColor
		case (n == 38 || n == 48) && i+2 < len(ps) && ps[i+1] == "5":
			c, _ := strconv.Atoi(ps[i+2])
			if n == 38 {
				fg = c
			} else {
				bg = c
			}
			i += 2
		case n >= 30 && n <= 37:
			fg = n - 30
		case n >= 40 && n <= 47:
			bg = n - 40
		case n >= 90 && n <= 97:
			fg = n - 90 + 8
		case n >= 100 && n <= 107:
			bg = n - 100 + 8
		case n == 39:
			fg = defaultColor
		case n == 49:
			bg = defaultColor
		default:
			t.Fatalf("SGR parameter %d in %q not understood", n, params)
		}
	}
	return fg, bg
}

// grey returns the grey level of a 256-color index on theme th.
func grey(th theme, c int, fg bool) uint8 {
	switch {
	case c == defaultColor && fg:
		return th.fg
	case c == defaultColor:
		return th.bg
	case c == 0 || c == 16:
		return 0
	case c < 16: // base colors: dark 1-7 and 8, light 9-15
		if c < 8 {
			return 0x80
		}
		return 0xe0
	case c < 232:
		i := c - 16
		r, g, b := i/36, i/6%6, i%6
		return uint8((r + g + b) * 0xff / 15)
	}
	return uint8(8 + 10*(c-232))
}

// paint shows rows of half-block cells on theme th as the terminal
// would: each cell two modules high, each module scale pixels, the
// theme's background around them.
func paint(th theme, rows [][]cell, scale int) *image.Gray {
	const margin = 6
	width := 0
	for _, r := range rows {
		width = max(width, len(r))
	}
	img := image.NewGray(image.Rect(0, 0, (width+2*margin)*scale, (2*len(rows)+2*margin)*scale))
	for i := range img.Pix {
		img.Pix[i] = th.bg
	}
	fill := func(x, y int, v uint8) {
		for dx := range scale {
			for dy := range scale {
				img.SetGray((x+margin)*scale+dx, (y+margin)*scale+dy, color.Gray{Y: v})
			}
		}
	}
	for y, row := range rows {
		for x, c := range row {
			f, b := grey(th, c.fg, true), grey(th, c.bg, false)
			top, bottom := b, b
			switch c.r {
			case '▀':
				top = f
			case '▄':
				bottom = f
			case '█':
				top, bottom = f, f
			}
			fill(x, 2*y, top)
			fill(x, 2*y+1, bottom)
		}
	}
	return img
}

// TestTerminalQRScans draws QR codes for the terminal, shows them the
// way a dark and a light terminal theme would, and reads them back
// with DecodeQR: every cell sets both of its colors, so the theme
// changes nothing.
func TestTerminalQRScans(t *testing.T) {
	long := accounts()["defaults"]
	long.Secret = bytes.Repeat([]byte{0xc3}, 64)
	long.Host = "a-rather-long-host-name.knock.example.org"
	accts := accounts()
	accts["64-byte secret, long host"] = long
	for name, a := range accts {
		uri, err := a.URI()
		if err != nil {
			t.Fatal(err)
		}
		q, err := DrawQR(uri)
		if err != nil {
			t.Fatal(err)
		}
		rows := parseCells(t, q.Text)
		for y, row := range rows {
			if len(row) != q.Columns {
				t.Fatalf("%s: row %d has %d cells, want Columns = %d", name, y, len(row), q.Columns)
			}
			for x, c := range row {
				if c.fg == defaultColor || c.bg == defaultColor {
					t.Fatalf("%s: cell %d,%d %q leaves a color to the theme (fg %d, bg %d)", name, x, y, c.r, c.fg, c.bg)
				}
			}
		}
		for _, th := range themes {
			t.Run(name+"/"+th.name, func(t *testing.T) {
				got, err := DecodeQR(paint(th, rows, 3))
				if err != nil {
					t.Fatalf("terminal QR does not scan on a %s theme: %v", th.name, err)
				}
				if got != uri {
					t.Errorf("terminal QR decodes to %q, want %q", got, uri)
				}
			})
		}
	}
}

// TestWriteQROutput: the code is drawn only on a terminal wide enough
// that allows colors; output that is no terminal (a pipe, a file),
// NO_COLOR, TERM=dumb and a narrow terminal get one line saying why and
// what to do instead, and no escape sequence.
func TestWriteQROutput(t *testing.T) {
	uri, _ := accounts()["defaults"].URI()
	q, err := DrawQR(uri)
	if err != nil {
		t.Fatal(err)
	}
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	const advice = "; write it with --qr-png FILE\n"
	cols := strconv.Itoa(q.Columns)
	tests := []struct {
		name string
		out  Output
		want string
	}{
		{"terminal, width unknown", Output{Terminal: true}, q.Text},
		{"exactly wide enough", Output{Terminal: true, Columns: q.Columns, Getenv: env("TERM", "xterm-256color")}, q.Text},
		{"wide", Output{Terminal: true, Columns: 200}, q.Text},
		{"empty NO_COLOR does not count", Output{Terminal: true, Columns: 200, Getenv: env("NO_COLOR", "")}, q.Text},
		{"pipe or file", Output{Columns: 200}, "QR code not shown: standard output is not a terminal" + advice},
		{"NO_COLOR", Output{Terminal: true, Columns: 200, Getenv: env("NO_COLOR", "1")}, "QR code not shown: NO_COLOR is set, and the terminal code needs its colors to scan on any theme" + advice},
		{"TERM=dumb", Output{Terminal: true, Columns: 200, Getenv: env("TERM", "dumb")}, "QR code not shown: TERM=dumb, and the terminal code needs colors" + advice},
		{"one column short", Output{Terminal: true, Columns: q.Columns - 1}, "QR code not shown: it needs " + cols + " columns and the terminal has " +
			strconv.Itoa(q.Columns-1) + " (widen the terminal)" + advice},
		{"narrow", Output{Terminal: true, Columns: 40}, "QR code not shown: it needs " + cols + " columns and the terminal has 40 (widen the terminal)" + advice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteQR(&b, uri, tt.out); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("WriteQR(%+v) =\n%q\nwant\n%q", tt.out, b.String(), tt.want)
			}
		})
	}
}

// TestDefaultColorQRFailsOnLight checks the test's own model of a
// theme: glyphs drawn in the default colors, as a QR code for dark
// terminals only is, come out inverted on a light theme and do not
// read, so TestTerminalQRScans can tell the difference.
func TestDefaultColorQRFailsOnLight(t *testing.T) {
	uri, _ := accounts()["defaults"].URI()
	q, err := DrawQR(uri)
	if err != nil {
		t.Fatal(err)
	}
	rows := parseCells(t, q.Text)
	for _, row := range rows {
		for x, c := range row {
			// Light modules as foreground glyphs in the default
			// colors, the way a dark-terminal drawing does.
			top, bottom := c.fg == qrLight, c.bg == qrLight
			row[x] = cell{r: map[[2]bool]rune{{true, true}: '█', {true, false}: '▀', {false, true}: '▄', {false, false}: ' '}[[2]bool{top, bottom}],
				fg: defaultColor, bg: defaultColor}
		}
	}
	if _, err := DecodeQR(paint(themes[0], rows, 3)); err != nil {
		t.Errorf("default-color drawing does not read on the dark theme: %v", err)
	}
	if got, err := DecodeQR(paint(themes[1], rows, 3)); err == nil {
		t.Errorf("default-color drawing reads on the light theme as %q; the theme model is not testing anything", got)
	}
}
