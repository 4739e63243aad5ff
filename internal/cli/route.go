package cli

import (
	"encoding/json"

	"github.com/waypost/waypost/internal/config"
)

func init() {
	register("route", "show where recipients go from a server (JSON, one line each)", runRoute)
}

func runRoute(env *Env, args []string) int {
	fs := newFlags(env, "route", "--config FILE --server NAME [--size BYTES] [--explain] RECIPIENT...",
		"Routes each recipient as the named server would and prints one JSON object per line.\n"+
			"A recipient may be an SMTP address, a one-off like \"[FAX:+1 555 0100]\", a typed\n"+
			"address like \"FAX:+1 555 0100\", or an IMCEA or RFC 3192 address. Routing outcomes\n"+
			"(including ndr) are data: the exit code is 0 unless the command itself fails.")
	var of orgFlags
	of.register(fs, true)
	size := fs.String("size", "0", "message size in bytes (or 10MB, 35MiB): connectors with a smaller limit are skipped")
	_ = fs.String("sender", "", "envelope sender (accepted for scripts; routing does not depend on it yet)")
	explain := fs.Bool("explain", false, "add an \"explain\" array: every send connector and why it was kept or dropped")
	if code, ok := parseFlags(env, fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		return usageError(env, fs, "name at least one recipient")
	}
	n, err := config.ParseSize(*size)
	if err != nil {
		return usageError(env, fs, "--size: %v", err)
	}
	org, ok := of.load(env)
	if !ok {
		return exitFail
	}
	server, ok := of.serverName(env, org)
	if !ok {
		return exitUsage
	}
	eng, ok := engineFor(env, org, server)
	if !ok {
		return exitFail
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetEscapeHTML(false)
	for _, r := range fs.Args() {
		d := eng.Route(server, r, n, *explain)
		if err := enc.Encode(d); err != nil {
			return fail(env, "writing output: %v", err)
		}
	}
	return exitOK
}
