package clientcmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// terminal returns the descriptor of r when r is a terminal.
func terminal(r io.Reader) (int, bool) {
	f, ok := r.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// readTerminalLine prompts on stderr and reads one line from the
// terminal fd without echoing it (the URI holds the secret): Enter ends
// it; when ctx ends (Ctrl-C) it restores the terminal and returns.
func readTerminalLine(ctx context.Context, env *Env, fd int) (string, error) {
	old, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("reading the terminal: %w", err)
	}
	fmt.Fprint(env.Stderr, "Paste the otpauth:// URI and press Enter (not shown; Ctrl-C cancels): ")
	type result struct {
		line []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := term.ReadPassword(fd)
		done <- result{line, err}
	}()
	select {
	case <-ctx.Done():
		term.Restore(fd, old) // the reader stays blocked; the echo comes back
		fmt.Fprintln(env.Stderr)
		return "", fmt.Errorf("interrupted: %w", ctx.Err())
	case r := <-done:
		fmt.Fprintln(env.Stderr)
		if r.err != nil {
			return "", fmt.Errorf("reading the terminal: %w", r.err)
		}
		uri := strings.TrimSpace(string(r.line))
		if !strings.HasPrefix(uri, "otpauth://") {
			return "", fmt.Errorf("-: the line read is not an otpauth:// URI (%d characters)", len(uri))
		}
		return uri, nil
	}
}
