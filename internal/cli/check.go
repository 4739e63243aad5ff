package cli

import (
	"fmt"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/hub"
)

func init() {
	register("check", "validate an organization file: list every error, exit 1 if any", runCheck)
}

func runCheck(env *Env, args []string) int {
	fs := newFlags(env, "check", "--config FILE",
		"Checks everything start-up checks: the file's syntax and keys, references between sites,\n"+
			"servers and connectors, address spaces, sizes, durations, recipients, and the files and\n"+
			"folders it names. Every error is listed with its file, line and a fix. Exit 0 when clean.")
	var of orgFlags
	of.register(fs, false)
	if code, ok := parseFlags(env, fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	if of.config == "" {
		return usageError(env, fs, "--config FILE is required")
	}
	org, _, err := hub.LoadOrg(of.config) // what start-up and every reload check
	if err != nil {
		errs, _ := err.(config.Errors)
		fmt.Fprintln(env.Stderr, err)
		if n := len(errs); n > 0 {
			fmt.Fprintf(env.Stderr, "%s: %d error%s\n", of.config, n, plural(n))
		}
		return exitFail
	}
	fmt.Fprintf(env.Stdout, "%s: ok (%d sites, %d servers, %d send connectors, %d recipients)\n",
		of.config, len(org.Sites), len(org.Servers), len(org.SendConnectors), len(org.Recipients))
	return exitOK
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
