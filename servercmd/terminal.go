package servercmd

import (
	"os"

	"github.com/otpknock/otpknock/qr"
	"golang.org/x/term"
)

// terminal returns the width of the terminal v (Env's Stdin or Stdout)
// is, 0 when unknown, and whether it is one: Env's, or the kernel's.
func (env *Env) terminal(v any) (columns int, ok bool) {
	if env.Terminal != nil {
		return env.Terminal(v)
	}
	f, ok := v.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0, true
	}
	return cols, true
}

// qrOutput describes Env's Stdout for a terminal QR code.
func (env *Env) qrOutput() qr.Output {
	cols, ok := env.terminal(env.Stdout)
	return qr.Output{Terminal: ok, Columns: cols, Getenv: env.Getenv}
}
