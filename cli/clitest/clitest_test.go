package clitest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/cli"
)

// echo is a program's entry: it copies stdin to stdout, writes its
// arguments and $WHO to stderr, and refuses the argument "bad" as a
// usage error.
func echo(_ context.Context, args []string, env cli.Env) error {
	if _, err := io.Copy(env.Stdout, env.Stdin); err != nil {
		return err
	}
	io.WriteString(env.Stderr, strings.Join(args, " ")+" "+env.Getenv("WHO")+" "+env.Version)
	if len(args) > 0 && args[0] == "bad" {
		return cli.Usage(errors.New("bad: refused"))
	}
	return nil
}

// TestRun checks that Run gives the entry stdin, the environment and
// the version of its Env, and returns the outputs, the error and its
// exit code.
func TestRun(t *testing.T) {
	env := Env(map[string]string{"WHO": "alice"}, nil, true)
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  Result
	}{
		{"ok", "in", []string{"a", "b"}, Result{Args: []string{"a", "b"}, Stdout: "in", Stderr: "a b alice test"}},
		{"usage", "", []string{"bad"}, Result{Args: []string{"bad"}, Stderr: "bad alice test", Code: cli.ExitUsage}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Run(echo, env, tt.stdin, tt.args...)
			if (got.Err != nil) != (tt.want.Code != cli.ExitOK) {
				t.Errorf("err %v with exit code %d", got.Err, got.Code)
			}
			got.Err = nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Run (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInDir checks the {dir} substitution, and URISecret the secret's
// extraction.
func TestInDir(t *testing.T) {
	if diff := cmp.Diff([]string{"-c", "/d/c.yaml", "x{di}"}, InDir("/d", []string{"-c", "{dir}/c.yaml", "x{di}"})); diff != "" {
		t.Errorf("InDir (-want +got):\n%s", diff)
	}
	if got := URISecret("otpauth://otpknock/a?secret=ABC&host=h"); got != "ABC" {
		t.Errorf("URISecret = %q, want ABC", got)
	}
	if got := URISecret("otpauth://otpknock/a?host=h&secret=XYZ"); got != "XYZ" {
		t.Errorf("URISecret = %q, want XYZ", got)
	}
}
