package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/store"
)

const keyUsage = "usage: vigil key create --name NAME --source " + "alertmanager|pagerduty|azure-monitor|api" +
	" | vigil key list | vigil key revoke --id ID (each with --data DIR or --dsn DSN)"

// keyCommand manages integration keys from the command line, for the
// first sender of a new installation and for scripts. Every change is
// recorded in the audit log as done by "cli".
func keyCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(keyUsage)
	}
	switch args[0] {
	case "create":
		return keyCreate(ctx, args[1:], stdout, stderr)
	case "list":
		return keyList(ctx, args[1:], stdout, stderr)
	case "revoke":
		return keyRevoke(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown key command %q; %s", args[0], keyUsage)
}

// cliActor is who the audit log names for changes made with the CLI:
// whoever can run it can already read the database.
const cliActor = "cli"

func keyCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("key create", flag.ContinueOnError)
	load := configFlags(fs)
	name := fs.String("name", "", "key `name`, shown on the timeline as key:NAME (required)")
	source := fs.String("source", "", "the sender: "+strings.Join(auth.KeySources, ", ")+" (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	src, err := auth.ParseKeySource(*source)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, load, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, k, err := db.CreateIntegrationKey(ctx, *name, src, cliActor)
	if err != nil {
		return err
	}
	auditKey(ctx, db, "integration_key.created", k, stderr)
	// The key alone on the last line, so scripts can take it with tail -1.
	fmt.Fprintf(stdout, "created %s integration key %q (id %d); it is shown only once:\n%s\n", k.Source, k.Name, k.ID, secret)
	return nil
}

func keyList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("key list", flag.ContinueOnError)
	load := configFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	db, err := openStore(ctx, load, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := db.ListIntegrationKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSOURCE\tKEY\tCREATED\tLAST USED\tREVOKED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s…\t%s\t%s\t%s\n", k.ID, k.Name, k.Source, k.Hint,
			k.CreatedAt.Format(time.DateTime), orDash(k.LastUsedAt), orDash(k.RevokedAt))
	}
	return tw.Flush()
}

func keyRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("key revoke", flag.ContinueOnError)
	load := configFlags(fs)
	id := fs.Int64("id", 0, "the key's `id`, as key list shows it (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id <= 0 {
		return errors.New("--id is required")
	}
	db, err := openStore(ctx, load, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	k, err := db.GetIntegrationKey(ctx, *id)
	if err != nil {
		return err
	}
	if k.RevokedAt == nil {
		if err := db.RevokeIntegrationKey(ctx, *id); err != nil {
			return err
		}
		auditKey(ctx, db, "integration_key.revoked", k, stderr)
	}
	// A running server may accept the key for a few seconds more, from its cache.
	fmt.Fprintf(stdout, "revoked integration key %q (id %d)\n", k.Name, k.ID)
	return nil
}

// auditKey records a key change made with the CLI; a failure is reported
// but does not undo the change.
func auditKey(ctx context.Context, db *store.DB, action string, k store.IntegrationKey, stderr io.Writer) {
	err := db.RecordAudit(ctx, store.AuditEntry{At: time.Now(), Actor: cliActor, Action: action,
		Target: fmt.Sprintf("integration key %d (%s)", k.ID, k.Name),
		Detail: map[string]any{"key_name": k.Name, "source": k.Source, "prefix": k.Hint}})
	if err != nil {
		fmt.Fprintln(stderr, "vigil: warning: the audit log did not record this:", err)
	}
}

func orDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.DateTime)
}
