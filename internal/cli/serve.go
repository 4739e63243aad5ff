package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/waypost/waypost/internal/hub"
)

func init() {
	register("serve", "run a hub: receive over SMTP, queue, deliver", runServe)
}

func runServe(env *Env, args []string) int {
	fs := newFlags(env, "serve", "[--config FILE --server NAME]",
		"Runs one hub of the organization until SIGTERM or SIGINT, then shuts down cleanly:\n"+
			"sessions under way finish, accepted mail stays queued for the next start.\n"+
			"Without --config it runs the built-in organization: domain example.test, SMTP on\n"+
			"127.0.0.1:2525, submission on 127.0.0.1:2587, the HTTP API on 127.0.0.1:8025, data in\n"+
			"./waypost-data.")
	var of orgFlags
	of.register(fs, true)
	debug := fs.Bool("debug", false, "log debug lines too")
	if code, ok := parseFlags(env, fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
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
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	h, err := hub.Open(org, server, log)
	if err != nil {
		fmt.Fprintln(env.Stderr, err)
		return fail(env, "cannot start %s", server)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := h.Run(ctx); err != nil {
		return fail(env, "%s stopped: %v", server, err)
	}
	return exitOK
}
