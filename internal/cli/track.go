package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/tracking"
)

func init() {
	register("track", "search a hub's message tracking log (JSON lines)", runTrack)
}

func runTrack(env *Env, args []string) int {
	fs := newFlags(env, "track", "--config FILE --server NAME [filters]",
		"Prints the tracking log events of a hub that match every filter given, one JSON object\n"+
			"per line, oldest first. Text filters match case-insensitively as substrings. The log\n"+
			"is read from the server's data_dir; the hub need not be running.")
	var of orgFlags
	of.register(fs, true)
	var f tracking.Filter
	fs.StringVar(&f.ID, "id", "", "queue id")
	fs.StringVar(&f.MessageID, "message-id", "", "Message-ID header")
	fs.StringVar(&f.Sender, "sender", "", "envelope sender")
	fs.StringVar(&f.Recipient, "recipient", "", "recipient")
	fs.StringVar(&f.Event, "event", "", "event: RECEIVE, RESOLVE, EXPAND, ROUTE, DEFER, SEND, DELIVER, FAIL, DSN, QUARANTINE; administrators' RETRY, HOLD, RELEASE, REMOVE, REROUTE, RELOAD")
	since := fs.String("since", "", "from this time on: RFC 3339 (2026-11-29T09:00:00Z) or a duration ago (2h)")
	until := fs.String("until", "", "up to this time: RFC 3339 or a duration ago")
	if code, ok := parseFlags(env, fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	var err error
	if f.Since, err = when(*since); err != nil {
		return usageError(env, fs, "--since: %v", err)
	}
	if f.Until, err = when(*until); err != nil {
		return usageError(env, fs, "--until: %v", err)
	}
	org, ok := of.load(env)
	if !ok {
		return exitFail
	}
	server, ok := of.serverName(env, org)
	if !ok {
		return exitUsage
	}
	path := filepath.Join(org.Server(server).DataDir, "tracking.log")
	r, err := os.Open(path)
	if err != nil {
		return fail(env, "cannot read the tracking log of %s: %v", server, err)
	}
	defer r.Close()
	enc := json.NewEncoder(env.Stdout)
	enc.SetEscapeHTML(false)
	err = tracking.Search(r, f, func(e tracking.Event) { enc.Encode(e) }, func(line int, err error) {
		fmt.Fprintf(env.Stderr, "waypost: %s:%d: skipped a line that is not an event (%v)\n", path, line, err)
	})
	if err != nil {
		return fail(env, "reading %s: %v", path, err)
	}
	return exitOK
}

// when reads a time given as RFC 3339 or as a duration before now.
func when(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 2h", s)
}
