// Command vigil is a self-hosted operations hub for security alerts.
//
//	vigil serve   [--config FILE] [--listen ADDR] [--data DIR] [--dsn DSN]
//	vigil demo    [--listen ADDR] [--data DIR] [--scenario 4s] [--incident-api sentinel|graph]
//	vigil migrate [--config FILE] [--data DIR] [--dsn DSN]
//	vigil backup  [--config FILE] [--data DIR] --out FILE
//	vigil token create --data DIR --name NAME --role viewer|responder|admin
//	vigil user add --data DIR --email EMAIL --role ROLE   (password on stdin)
//	vigil simulate --listen 127.0.0.1:PORT [--ca-file FILE] [--seed N] [--preload N] [--scenario 5s] [--browser-listen 127.0.0.1:PORT] [--az-proxy 127.0.0.1:PORT [--az-dir DIR]]
//	vigil bench ingest [flags]   (see vigil bench ingest --help)
//	vigil version
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-soc/vigil/internal/app"
	"github.com/vigil-soc/vigil/internal/auth"
	"github.com/vigil-soc/vigil/internal/clock"
	"github.com/vigil-soc/vigil/internal/config"
	"github.com/vigil-soc/vigil/internal/loadgen"
	"github.com/vigil-soc/vigil/internal/simulator"
	"github.com/vigil-soc/vigil/internal/store"
)

const usage = `usage: vigil <command> [flags]

commands:
  serve          run the server
  demo           run the server with sample alerts and a throw-away database
  migrate        apply database migrations and exit
  backup         copy the SQLite database to a new file while the server runs
  token create   create an API token (printed alone on the last line)
  user add       add a local user (password read from standard input)
  key create     create an integration key for one sender (printed alone on the last line)
  key list       list integration keys
  key revoke     revoke an integration key
  rules          export, apply (-f FILE [--dry-run]) or import-sentinel automation rules
  import alertmanager-config FILE
                 map an alertmanager.yml to services and inhibit rules, and report what does not map
  simulate       run the simulated Microsoft tenant (Entra ID, Sentinel, Defender, Graph, DevOps)
  bench ingest   load-test a running server
  bench signin   flood a running server's sign-in and watch its memory
  version        print the version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "vigil:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, rest, stderr)
	case "demo":
		return demo(ctx, rest, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, stderr)
	case "backup":
		return backup(ctx, rest, stdout)
	case "token":
		if len(rest) == 0 || rest[0] != "create" {
			return errors.New("usage: vigil token create --data DIR --name NAME --role ROLE")
		}
		return tokenCreate(ctx, rest[1:], stdout, stderr)
	case "key":
		return keyCommand(ctx, rest, stdout, stderr)
	case "rules":
		return rulesCommand(ctx, rest, stdout, stderr)
	case "import":
		return importCommand(ctx, rest, stdout, stderr)
	case "user":
		if len(rest) == 0 || rest[0] != "add" {
			return errors.New("usage: vigil user add --data DIR --email EMAIL --role ROLE")
		}
		return userAdd(ctx, rest[1:], stdin, stdout, stderr)
	case "simulate":
		return simulate(ctx, rest, stdout, stderr)
	case "bench":
		if len(rest) > 0 && rest[0] == "signin" {
			return loadgen.SigninMain(ctx, rest[1:], stdout, stderr)
		}
		if len(rest) == 0 || rest[0] != "ingest" {
			return errors.New("usage: vigil bench ingest|signin [flags]")
		}
		return loadgen.Main(ctx, rest[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "vigil", app.Version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// configFlags registers the flags every server-side command shares and
// returns a function that loads the configuration with them applied.
func configFlags(fs *flag.FlagSet) func() (config.Config, error) {
	path := fs.String("config", "", "YAML config `file` (keys as in README.md)")
	listen := fs.String("listen", "", "listen `address` (VIGIL_LISTEN)")
	data := fs.String("data", "", "data `directory` for SQLite (VIGIL_DATA)")
	dsn := fs.String("dsn", "", "PostgreSQL `DSN`; SQLite when empty (VIGIL_DATABASE_DSN)")
	proc := fs.String("process-file", "", "work-item process YAML `file` (VIGIL_PROCESS_FILE)")
	level := fs.String("log-level", "", "debug, info, warn or error (VIGIL_LOG_LEVEL)")
	return func() (config.Config, error) {
		over := map[string]any{}
		set := func(key, v string) {
			if v != "" {
				over[key] = v
			}
		}
		set("listen", *listen)
		set("data", *data)
		set("database_dsn", *dsn)
		set("process_file", *proc)
		set("log_level", *level)
		return config.Load(*path, os.Environ(), over)
	}
}

// openStore loads the configuration and opens (and migrates) its store.
func openStore(ctx context.Context, load func() (config.Config, error), stderr io.Writer) (*store.DB, error) {
	cfg, err := load()
	if err != nil {
		return nil, err
	}
	return app.OpenStore(ctx, cfg, app.NewLogger(cfg, stderr), clock.Real{})
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	load := configFlags(fs)
	role := fs.String("role", "", "all (default: HTTP and the background engine), api (HTTP only) or engine (the background engine only); api and engine need PostgreSQL (VIGIL_ROLE)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if *role != "" {
		cfg.Role = *role
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	log := app.NewLogger(cfg, stderr)
	a, err := app.New(ctx, cfg, log, clock.Real{})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	load := configFlags(fs)
	scenario := fs.Duration("scenario", 4*time.Second, "how often the simulated tenant's users act (0: never, for scripted runs)")
	incidentAPI := fs.String("incident-api", "sentinel", "where incidents seen through both Sentinel and Graph are read and written: sentinel or graph")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *incidentAPI != "sentinel" && *incidentAPI != "graph" {
		return fmt.Errorf("--incident-api %q: want sentinel or graph", *incidentAPI)
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	keep := false
	fs.Visit(func(f *flag.Flag) { keep = keep || f.Name == "data" || f.Name == "dsn" })
	return app.Demo(ctx, cfg, app.DemoOptions{KeepData: keep, Scenario: *scenario, IncidentAPI: *incidentAPI}, app.NewLogger(cfg, stderr), stdout)
}

func migrate(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	load := configFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	db, err := openStore(ctx, load, stderr) // opening runs the migrations
	if err != nil {
		return err
	}
	return db.Close()
}

func tokenCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	load := configFlags(fs)
	name := fs.String("name", "", "token `name`, shown on the timeline (required)")
	roleName := fs.String("role", "", "viewer, responder or admin (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	role, err := auth.ParseRole(*roleName)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, load, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, tok, err := db.CreateToken(ctx, *name, role)
	if err != nil {
		return err
	}
	auditTokenCreated(ctx, db, tok, stderr)
	// The token alone on the last line, so scripts can take it with tail -1.
	fmt.Fprintf(stdout, "created %s token %q (id %d); it is shown only once:\n%s\n", tok.Role, tok.Name, tok.ID, secret)
	return nil
}

func userAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	load := configFlags(fs)
	email := fs.String("email", "", "the user's email `address` (required)")
	roleName := fs.String("role", "", "viewer, responder or admin (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	role, err := auth.ParseRole(*roleName)
	if err != nil {
		return err
	}
	// The password comes from stdin, never from argv, which other users
	// of the machine can read in the process list.
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	hash, err := auth.HashPassword(strings.TrimRight(line, "\r\n"))
	if err != nil {
		return err
	}
	db, err := openStore(ctx, load, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := db.AddUser(ctx, *email, role, hash)
	if err != nil {
		return err
	}
	auditUserAdded(ctx, db, u, stderr)
	fmt.Fprintf(stdout, "added %s user %s (id %d)\n", u.Role, u.Email, u.ID)
	return nil
}

func simulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8443", "listen `address` (loopback)")
	caFile := fs.String("ca-file", "vigil-sim-ca.pem", "where to write the simulator's CA certificate")
	seed := fs.Uint64("seed", 1, "seed for generated alerts and ids")
	preload := fs.Int("preload", 3, "Defender for Cloud alerts raised at start, each with its Sentinel alert and incident")
	scenario := fs.Duration("scenario", 0, "run the scenario engine: one user action (new alert, dismiss, close…) every `interval`; 0 for none")
	browserListen := fs.String("browser-listen", "", "also serve the sign-in pages a browser opens (the account picker) over plain HTTP on this loopback `address`, e.g. 127.0.0.1:0, so that a browser need not trust the CA")
	azProxy := fs.String("az-proxy", "", "for Azure CLI: run the login.microsoftonline.com discovery proxy on this loopback `address` (e.g. 127.0.0.1:0), write az's files to --az-dir and print the commands that point az at the simulator")
	azDir := fs.String("az-dir", "vigil-sim-az", "with --az-proxy: `directory` for az's profile, CA bundle and cloud config")
	if err := parse(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ca, err := filepath.Abs(*caFile)
	if err != nil {
		return err
	}
	sim := simulator.New(simulator.Options{Seed: *seed, Preload: *preload, Logger: log})
	srv, err := simulator.Listen(sim, *listen, ca)
	if err != nil {
		return err
	}
	if *browserListen != "" {
		u, err := srv.ServeBrowserPages(*browserListen)
		if err != nil {
			srv.Close()
			return err
		}
		log.Info("sign-in pages served over plain HTTP", "url", u)
	}
	if *scenario > 0 {
		go sim.NewScenario().Run(ctx, *scenario)
	}
	var azCommands []string
	if *azProxy != "" {
		proxy, err := simulator.NewDiscoveryProxy(sim, *azProxy)
		if err != nil {
			srv.Close()
			return err
		}
		defer proxy.Close()
		if azCommands, err = simulator.AzureCLISetup(srv, proxy, *azDir); err != nil {
			srv.Close()
			return err
		}
	}
	// Everything a client needs, on one line, for scripts to read; then,
	// with --az-proxy, the shell commands for Azure CLI, one a line.
	line, _ := json.Marshal(srv.Info)
	fmt.Fprintln(stdout, string(line))
	for _, c := range azCommands {
		fmt.Fprintln(stdout, c)
	}
	<-ctx.Done()
	return srv.Close()
}
