package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/otpknock/otpknock/derive"
	"github.com/spf13/cobra"
)

// toy is a program of two commands, greet and group (with one
// subcommand, sub), whose runs write to out; it refuses the other
// role's commands init and user.
func toy(out io.Writer) Program {
	return Program{
		Name: "toy", Short: "A toy", Long: "toy is a program to test the toolkit with.",
		Commands: []Command{
			{Name: "greet", New: func() *cobra.Command {
				c := &cobra.Command{Use: "greet [NAME]", Short: "Greet", Args: Args(0, 1, "at most one NAME"),
					RunE: func(_ *cobra.Command, a []string) error {
						if len(a) == 1 && a[0] == "fail" {
							return errors.New("greeting failed")
						}
						if len(a) == 1 && a[0] == "bad" {
							return UsageErrorf("NAME: %q is bad", a[0])
						}
						fmt.Fprintln(out, "hello", a)
						return nil
					}}
				c.Flags().String("format", "plain", "the format")
				return c
			}},
			{Name: "group", New: func() *cobra.Command {
				g := &cobra.Command{Use: "group", Short: "A group"}
				g.AddCommand(&cobra.Command{Use: "sub", Short: "Sub", Aliases: []string{"s"}, Args: Args(0, 0, "no arguments"),
					RunE: func(*cobra.Command, []string) error { fmt.Fprintln(out, "sub ran"); return nil }})
				return g
			}},
		},
		Other: "toyd", Role: "server", OtherCommands: []string{"init", "user"},
		Complete: func(root *cobra.Command) {
			if c := Find(root, "greet"); c != nil {
				c.ValidArgsFunction = CompleteFirst(func(*cobra.Command) []string { return []string{"ann", "bob"} })
				c.RegisterFlagCompletionFunc("format", CompleteValues("plain", "json"))
			}
		},
	}
}

func runToy(args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	err = Execute(context.Background(), args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) string { return "" }, Version: "v1"}, toy(&out))
	return out.String(), errb.String(), err
}

// TestExecute checks exit codes, one-line errors and output of
// command lines run through a program.
func TestExecute(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string // in stdout
		err  string // the error's message, whole
	}{
		{[]string{"greet", "ann"}, ExitOK, "hello [ann]", ""},
		{[]string{"greet", "fail"}, ExitFailure, "", "greeting failed"},
		{[]string{"greet", "bad"}, ExitUsage, "", `NAME: "bad" is bad`},
		{[]string{"greet", "a", "b"}, ExitUsage, "", "toy greet: want at most one NAME, got 2 argument(s) (see toy greet --help)"},
		{[]string{"greet", "--bogus"}, ExitUsage, "", "unknown flag: --bogus (see toy greet --help)"},
		{[]string{"gret"}, ExitUsage, "", `unknown command "gret" for "toy" (did you mean greet?) (see toy --help)`},
		{[]string{"group"}, ExitOK, "Usage:", ""},
		{[]string{"group", "s"}, ExitOK, "sub ran", ""},
		{[]string{"group", "nope"}, ExitUsage, "", `unknown command "nope" for "toy group" (see toy group --help)`},
		{[]string{"group", "nope", "--help"}, ExitUsage, "", `unknown command "nope" for "toy group" (see toy group --help)`},
		{[]string{"group", "sub", "--help"}, ExitOK, "toy group sub [flags]", ""},
		{[]string{"init", "--x"}, ExitUsage, "", "toy init: init is a server command: run toyd init"},
		{[]string{"help", "user"}, ExitUsage, "", "toy user: user is a server command: run toyd user"},
		{[]string{"version", "x"}, ExitUsage, "", "toy version: want no arguments, got 1 argument(s) (see toy version --help)"},
		{[]string{"completion", "bash"}, ExitOK, "bash completion V2 for toy", ""},
		{[]string{"completion", "tcsh"}, ExitUsage, "", `completion: unknown shell "tcsh": toy completes bash, fish, powershell, zsh`},
		{nil, ExitOK, "toy is a program to test the toolkit with.", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, _, err := runToy(tt.args...)
			if got := ExitCode(err); got != tt.code {
				t.Errorf("exit code %d, want %d (err %v)", got, tt.code, err)
			}
			if !strings.Contains(out, tt.out) {
				t.Errorf("stdout lacks %q:\n%s", tt.out, out)
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.err {
				t.Errorf("error %q, want %q", got, tt.err)
			}
		})
	}
}

// TestLine: the line Main prints names the program once.
func TestLine(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("config x does not exist"), "toy: config x does not exist"},
		{Usage(RoleError{Program: "toy", Command: "init", Role: "server", Other: "toyd"}), "toy init: init is a server command: run toyd init"},
	} {
		if got := Line("toy", tc.err); got != tc.want {
			t.Errorf("Line(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestComplete: Program.Complete's completions answer the shell's
// requests; the other role's commands complete nothing.
func TestComplete(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "greet", ""}, []string{"ann", "bob"}},
		{[]string{"__complete", "greet", "a"}, []string{"ann"}},
		{[]string{"__complete", "greet", "ann", ""}, nil},
		{[]string{"__complete", "greet", "--format", "j"}, []string{"json"}},
		{[]string{"__complete", "init", ""}, nil},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, _, err := runToy(tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.HasPrefix(l, ":") && l != "" {
					got = append(got, l)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("completions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRootBuildsOneCommand checks that a named command is built alone,
// and that no command, or an unknown one, gets the whole tree.
func TestRootBuildsOneCommand(t *testing.T) {
	all := len(toy(io.Discard).Commands) + 1 // and version
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"greet", "ann"}, 1},
		{[]string{"group", "sub"}, 1},
		{[]string{"version"}, 1},
		{nil, all},
		{[]string{"help", "greet"}, all},
		{[]string{"gret"}, all},
		{[]string{"--version"}, all},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			if got := len(newRoot(&Env{}, toy(io.Discard), tc.args).Commands()); got != tc.want {
				t.Errorf("%d top-level commands, want %d", got, tc.want)
			}
		})
	}
	if got := len(Root(Env{}, toy(io.Discard)).Commands()); got != all {
		t.Errorf("Root: %d top-level commands, want %d", got, all)
	}
}

func TestFormatSequence(t *testing.T) {
	ks := []derive.Knock{{Proto: derive.TCP, Port: 23456}, {Proto: derive.UDP, Port: 30001}}
	for _, tc := range []struct {
		ks     []derive.Knock
		format string
		want   string
		err    string
	}{
		{ks, "plain", "tcp/23456 udp/30001", ""},
		{ks, "knock", "23456:tcp 30001:udp", ""},
		{[]derive.Knock{{Proto: derive.ICMP, Port: 7}}, "knock", "", "profile p knocks with icmp, which the knock client cannot send: use otpknock send"},
	} {
		got, err := FormatSequence(tc.ks, tc.format, "p")
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tc.want || gotErr != tc.err {
			t.Errorf("FormatSequence(%v, %s) = %q, %q; want %q, %q", tc.ks, tc.format, got, gotErr, tc.want, tc.err)
		}
	}
	if got := KnockList(nil); got != "-" {
		t.Errorf("KnockList(nil) = %q, want -", got)
	}
	if got := KnockList(ks); got != "tcp/23456,udp/30001" {
		t.Errorf("KnockList = %q", got)
	}
	if YesNo(true) != "yes" || YesNo(false) != "no" {
		t.Error("YesNo")
	}
}

// TestExitCodeClasses checks the exit code of each class of error,
// wrapped or not, and that NoProfile outranks Usage.
func TestExitCodeClasses(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"runtime failure", base, ExitFailure},
		{"usage", Usage(base), ExitUsage},
		{"usage wrapped", fmt.Errorf("send: %w", Usage(base)), ExitUsage},
		{"no profile", NoProfile(base), ExitNoProfile},
		{"no profile wrapped", fmt.Errorf("send: %w", NoProfile(base)), ExitNoProfile},
		{"no profile marked usage", Usage(NoProfile(base)), ExitNoProfile},
		{"NoProfile(nil)", NoProfile(nil), ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
	if ExitNoProfile == ExitFailure || ExitNoProfile == ExitUsage || ExitNotOpened != 1 || ExitUsage != 2 {
		t.Errorf("exit codes not distinct or moved: not opened %d, usage %d, no profile %d", ExitNotOpened, ExitUsage, ExitNoProfile)
	}
}
