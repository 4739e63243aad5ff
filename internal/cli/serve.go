package cli

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/hub"
	"github.com/waypost/waypost/internal/queue"
)

func init() {
	register("serve", "run a hub: receive over SMTP, queue, deliver", runServe)
}

func runServe(env *Env, args []string) int {
	fs := newFlags(env, "serve", "[--config FILE --server NAME]",
		"Runs one hub of the organization until SIGTERM or SIGINT, then shuts down cleanly:\n"+
			"sessions under way finish, accepted mail stays queued for the next start.\n"+
			"SIGHUP (or \"waypost reload\", or a change of the file) reloads the organization file:\n"+
			"a valid one applies to new sessions and the next delivery attempts; an invalid one is\n"+
			"refused with every error and the configuration in force keeps serving.\n"+
			"Without --config it runs the built-in organization: domain example.test, SMTP on\n"+
			"127.0.0.1:2525, submission on 127.0.0.1:2587, the HTTP API on 127.0.0.1:8025, data in\n"+
			"./waypost-data.")
	var of orgFlags
	of.register(fs, true)
	debug := fs.Bool("debug", false, "log debug lines too")
	logFormat := fs.String("log-format", "text", "log lines as text (key=value) or json (one object per line)")
	dns := fs.String("dns", "", "comma-separated resolvers (IP or IP:port) to ask instead of the server's dns (and of /etc/resolv.conf)")
	watch := fs.Duration("watch", 500*time.Millisecond, "how often to look for changes of the organization file and apply them (0: only on SIGHUP or \"waypost reload\")")
	if code, ok := parseFlags(env, fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	var resolvers []string
	if *dns != "" {
		var err error
		if resolvers, err = config.ParseDNS(strings.Split(*dns, ",")); err != nil {
			return usageError(env, fs, "%v", err)
		}
	}
	org, ok := of.load(env)
	if !ok {
		return exitFail
	}
	server, ok := of.serverName(env, org)
	if !ok {
		return exitUsage
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	var handler slog.Handler
	switch *logFormat {
	case "text":
		handler = slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level})
	case "json":
		handler = slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: level})
	default:
		return usageError(env, fs, "--log-format %q: use text or json", *logFormat)
	}
	log := slog.New(handler)
	// SIGHUP reloads the organization file; it never stops the hub (not
	// even during start-up, when logrotate may send it).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	h, err := hub.Open(org, server, log)
	if err != nil {
		return fail(env, "cannot start %s: %v\n(fix: %s)", server, err, startupFix(err, of.config))
	}
	h.Watch = *watch
	if resolvers != nil {
		h.UseDNS(resolvers)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				h.Reload("signal SIGHUP") // logs what it applied or refused
			}
		}
	}()
	if err := h.Run(ctx); err != nil {
		return fail(env, "%s stopped: %v", server, err)
	}
	return exitOK
}

// startupFix says what to do about an error that stopped a hub from
// starting, in the terms of the organization file (file; "" for the
// built-in organization).
func startupFix(err error, file string) string {
	where := "a copy of the built-in organization, examples/single/waypost.toml, given with --config"
	if file != "" {
		where = file
	}
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return "another program listens on that address (\"ss -ltnp\" names it); stop it, or change listen (or api, relay) in " + where
	case errors.Is(err, syscall.EACCES) && strings.Contains(err.Error(), "bind"):
		return "ports below 1024 need CAP_NET_BIND_SERVICE (the systemd unit in packaging/systemd grants it) or a port above 1023 in " + where
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no interface of this machine has that address; change listen (or api, relay) in " + where
	case errors.Is(err, queue.ErrLocked):
		return "another \"waypost serve\" is running with the same data_dir; stop it, or give this server its own data_dir in " + where
	case errors.Is(err, os.ErrPermission):
		return "the user running waypost cannot write there: give it the data_dir (under systemd, StateDirectory= in the unit does), or change data_dir in " + where
	}
	return "correct what the message names, then start again; \"waypost check --config FILE\" checks the file"
}
