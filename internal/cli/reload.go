package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/waypost/waypost/internal/control"
)

func init() {
	register("reload", "make a running hub re-read the organization file", runReload)
}

func runReload(env *Env, args []string) int {
	fs := newFlags(env, "reload", "[--config FILE --server NAME] [--json] [--show]",
		"Asks the running hub to re-read its organization file (as SIGHUP does). A valid file\n"+
			"applies at once to new SMTP sessions and to the next delivery attempts, without\n"+
			"dropping open sessions or deliveries under way; changes to this server's own\n"+
			"listeners, data_dir or hub secret are named and apply at the next restart. An invalid\n"+
			"file is refused with every error (exit 1) and the configuration in force keeps serving.\n"+
			"--show prints what the hub runs with (file digest, load time, address types per site)\n"+
			"without reloading.")
	var hf hubFlags
	hf.register(fs)
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	show := fs.Bool("show", false, "print the configuration in force; do not reload")
	if code, ok := parseFlags(env, fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	c, ok := hf.dial(env)
	if !ok {
		return exitFail
	}
	defer c.Close()
	if *show {
		var st control.Status
		if err := c.Call(control.OpStatus, nil, &st); err != nil {
			return hubError(env, err)
		}
		if *asJSON {
			return printJSON(env, st)
		}
		fmt.Fprintf(env.Stdout, "%s (pid %d) runs %s, loaded %s (sha256 %s)\n", st.Server, st.PID, orDash(st.File),
			st.ConfigLoaded.UTC().Format("2006-01-02T15:04:05Z"), short(st.ConfigDigest))
		for _, at := range st.AddressTypes {
			fmt.Fprintf(env.Stdout, "  site %s: %s (version %s)\n", at.Site, strings.Join(at.Types, " "), at.Version)
		}
		return exitOK
	}
	var res control.Reload
	err := c.Call(control.OpReload, nil, &res)
	if err != nil {
		var ce *control.Error
		if *asJSON && errors.As(err, &ce) {
			printJSON(env, map[string]any{"error": ce.Msg, "code": ce.Code, "errors": ce.Errors})
			return exitFail
		}
		return hubError(env, err)
	}
	if *asJSON {
		return printJSON(env, res)
	}
	if !res.Changed {
		fmt.Fprintf(env.Stdout, "%s: %s is unchanged; nothing to apply\n", res.Server, res.File)
		return exitOK
	}
	fmt.Fprintf(env.Stdout, "%s: reloaded %s\n", res.Server, res.File)
	for _, ch := range res.Changes {
		fmt.Fprintf(env.Stdout, "  %s\n", ch)
	}
	for _, site := range res.TypesChanged {
		for _, at := range res.AddressTypes {
			if at.Site == site {
				fmt.Fprintf(env.Stdout, "  address types of site %s: %s (version %s)\n", site, strings.Join(at.Types, " "), at.Version)
			}
		}
	}
	for _, r := range res.RestartRequired {
		fmt.Fprintf(env.Stdout, "  applies only after a restart: %s\n", r)
	}
	return exitOK
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
