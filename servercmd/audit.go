package servercmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/otpknock/otpknock/cli"
	"github.com/otpknock/otpknock/config"
	"github.com/otpknock/otpknock/fleet"
	"github.com/spf13/cobra"
)

type auditFlags struct {
	config string
	follow bool
	fleet  bool
	file   string
}

func newAuditCmd(env *Env) *cobra.Command {
	var f auditFlags
	c := &cobra.Command{
		Use:   "audit [--follow] [--fleet | --file FILE]",
		Short: summary("audit"),
		Long: `Print the audit events of grants and refusals, one JSON object a line
(time, kind, member, user, credential, step, source, services, reason):
the config's audit_log (or --file), and with --follow the lines appended
after. --fleet follows the fleet's audit subject instead, where every
member publishes its events (it has no history: --follow is implied).`,
		Example: "  otpknockd audit --follow\n  otpknockd audit --fleet",
		Args:    cli.Args(0, 0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.fleet {
				return auditFleet(cmd.Context(), env, f)
			}
			return auditFile(cmd.Context(), env, f)
		},
	}
	c.Flags().StringVarP(&f.config, "config", "c", config.DefaultPath, "server config file")
	c.Flags().BoolVarP(&f.follow, "follow", "f", false, "keep printing events as they are appended")
	c.Flags().BoolVar(&f.fleet, "fleet", false, "follow the fleet's audit subject (every member's events)")
	c.Flags().StringVar(&f.file, "file", "", "audit log to read (default: the config's audit_log)")
	c.MarkFlagsMutuallyExclusive("fleet", "file")
	return c
}

// auditFile prints the audit log, and follows it with --follow.
func auditFile(ctx context.Context, env *Env, f auditFlags) error {
	path := f.file
	if path == "" {
		cfg, err := config.Load(f.config)
		if err != nil {
			return cli.Usage(err)
		}
		if cfg.AuditLog == "" {
			return cli.UsageErrorf("%s: no audit_log: set it to a file, e.g. /var/log/otpknock/audit.jsonl, or pass --fleet", cfg.Path)
		}
		path = cfg.AuditLog
	}
	fh, err := os.Open(path)
	if err != nil {
		return cli.Usage(fmt.Errorf("audit log: %w", err))
	}
	defer fh.Close()
	return follow(ctx, fh, env.Stdout, f.follow, 250*time.Millisecond)
}

// follow copies whole lines of r to w; at the end it returns, or with
// keep waits every poll for more until ctx ends.
func follow(ctx context.Context, r io.Reader, w io.Writer, keep bool, poll time.Duration) error {
	br := bufio.NewReader(r)
	var partial []byte
	for {
		line, err := br.ReadBytes('\n')
		partial = append(partial, line...)
		if err == nil {
			if _, err := w.Write(partial); err != nil {
				return err
			}
			partial = partial[:0]
			continue
		}
		if !errors.Is(err, io.EOF) {
			return err
		}
		if !keep {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
	}
}

// auditFleet prints the fleet's audit events until ctx ends.
func auditFleet(ctx context.Context, env *Env, f auditFlags) error {
	cfg, err := fleetConfig(f.config)
	if err != nil {
		return cli.Usage(err)
	}
	store, closeStore, err := env.fleetStore(cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	var mu sync.Mutex
	enc := json.NewEncoder(env.Stdout)
	if err := store.SubscribeEvents(ctx, func(e fleet.Event) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(e)
	}); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "Following the audit events of fleet %s (interrupt to stop).\n", cfg.Fleet.ID)
	<-ctx.Done()
	return nil
}
