package qr

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"strings"

	"github.com/boombuler/barcode/qr"
	"golang.org/x/term"
)

// qrQuiet is the light margin, in modules, the terminal QR code draws
// around itself.
const qrQuiet = 2

// Colors of the terminal QR code: 256-color palette entries 16 (black)
// and 231 (white) of the fixed color cube, which terminal themes leave
// alone, unlike the 16 base colors a theme redefines.
const (
	qrDark  = 16
	qrLight = 231
)

// TerminalQR is a QR code drawn for a terminal: two modules a character
// cell, upper half-blocks whose foreground and background colors are
// both set, so the code reads the same on dark and light themes.
type TerminalQR struct {
	Text    string // the rows, with color escapes and newlines
	Columns int    // character cells a row takes
}

// DrawQR draws uri for a terminal, at error correction level L, within
// a light quiet zone of qrQuiet modules.
func DrawQR(uri string) (TerminalQR, error) {
	code, err := qr.Encode(uri, qr.L, qr.Auto)
	if err != nil {
		return TerminalQR{}, fmt.Errorf("drawing QR code: %w", err)
	}
	n := code.Bounds().Dx()
	size := n + 2*qrQuiet
	dark := func(x, y int) bool {
		x, y = x-qrQuiet, y-qrQuiet
		if x < 0 || y < 0 || x >= n || y >= n {
			return false
		}
		c := color.GrayModel.Convert(code.At(x, y)).(color.Gray)
		return c.Y < 0x80
	}
	var b strings.Builder
	for y := 0; y < size; y += 2 {
		fg, bg := -1, -1
		for x := range size {
			top, bottom := qrColor(dark(x, y)), qrColor(dark(x, y+1))
			if y+1 >= size {
				bottom = qrLight
			}
			if top != fg || bottom != bg {
				fmt.Fprintf(&b, "\x1b[38;5;%d;48;5;%dm", top, bottom)
				fg, bg = top, bottom
			}
			b.WriteString("▀")
		}
		b.WriteString("\x1b[0m\n")
	}
	return TerminalQR{Text: b.String(), Columns: size}, nil
}

func qrColor(dark bool) int {
	if dark {
		return qrDark
	}
	return qrLight
}

// Output is where a terminal QR code would go: whether it is a
// terminal, its width, and the environment that may forbid colors.
type Output struct {
	Terminal bool
	Columns  int                 // 0: unknown
	Getenv   func(string) string // nil: an empty environment
}

// Refusal says in one line why a QR code is not drawn for o: output that
// is no terminal (a pipe, a file), NO_COLOR set, TERM=dumb, or a
// terminal narrower than q; "" when it is drawn. The code's colors are
// what makes it scan on dark and light themes alike, so it is drawn
// with them or not at all.
func (o Output) Refusal(q TerminalQR) string {
	env := func(k string) string {
		if o.Getenv == nil {
			return ""
		}
		return o.Getenv(k)
	}
	switch {
	case !o.Terminal:
		return "standard output is not a terminal"
	case env("NO_COLOR") != "":
		return "NO_COLOR is set, and the terminal code needs its colors to scan on any theme"
	case env("TERM") == "dumb":
		return "TERM=dumb, and the terminal code needs colors"
	case o.Columns > 0 && o.Columns < q.Columns:
		return fmt.Sprintf("it needs %d columns and the terminal has %d (widen the terminal)", q.Columns, o.Columns)
	}
	return ""
}

// WriteQR draws uri as a QR code for the terminal o describes, or writes
// one line saying why it does not (Output.Refusal) and how to get the
// code as a PNG instead: no escapes go into pipes and files, none to a
// terminal that forbids colors, and no rows that would wrap into
// something no camera reads.
func WriteQR(w io.Writer, uri string, o Output) error {
	q, err := DrawQR(uri)
	if err != nil {
		return err
	}
	if why := o.Refusal(q); why != "" {
		_, err = fmt.Fprintf(w, "QR code not shown: %s; write it with --qr-png FILE\n", why)
		return err
	}
	_, err = io.WriteString(w, q.Text)
	return err
}

// TerminalColumns returns the width of the terminal w writes to, or 0
// when w is not a terminal.
func TerminalColumns(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return cols
}
