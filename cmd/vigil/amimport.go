package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/vigil-soc/vigil/internal/amconfig"
	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/paging"
)

const importUsage = "usage: vigil import alertmanager-config FILE [--policy NAME] [-o OUT.yaml] [--apply [--data DIR | --dsn DSN]]"

// importCommand reads other tools' configurations into vigil.
func importCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "alertmanager-config" {
		return errors.New(importUsage)
	}
	return importAlertmanager(ctx, args[1:], stdout, stderr)
}

// importAlertmanager maps an alertmanager.yml to vigil's services (routes
// and receivers, group_by, time intervals) and inhibit rules. It writes
// the definitions as YAML (stdout, or -o) and the report of what it could
// not map (stderr); with --apply it also stores the services, in routing
// order, through the same checks as the API (their policies must exist).
func importAlertmanager(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import alertmanager-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	load := configFlags(fs)
	policy := fs.String("policy", "", "the escalation `policy` every imported service pages (default: one per receiver, named after it)")
	out := fs.String("o", "", "write the definitions to this `file` instead of standard output")
	apply := fs.Bool("apply", false, "store the services in vigil's database")
	var file string
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		file, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if file == "" && fs.NArg() > 0 {
		file = fs.Arg(0)
	}
	if file == "" {
		return errors.New(importUsage)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	res, err := amconfig.Import(raw, amconfig.Options{Policy: *policy})
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	y, err := res.YAML()
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, y, 0o644); err != nil {
			return err
		}
	} else if _, err := stdout.Write(y); err != nil {
		return err
	}
	fmt.Fprint(stderr, res.Report())
	if !*apply {
		return nil
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg, stderr)
	db, err := app.OpenStore(ctx, cfg, log, clock.Real{})
	if err != nil {
		return err
	}
	defer db.Close()
	pager := paging.New(db, nil, paging.Options{Logger: log})
	actor := rulesActor()
	for _, s := range res.Services {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if _, _, err := pager.Put(ctx, actor, paging.KindService, s.Name, b); err != nil {
			return fmt.Errorf("service %s: %w (create its escalation policy first, or pass --policy)", s.Name, err)
		}
		fmt.Fprintf(stderr, "stored service %s\n", s.Name)
	}
	return nil
}
