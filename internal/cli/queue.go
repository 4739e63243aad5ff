package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/waypost/waypost/internal/control"
)

func init() {
	register("queue", "list, inspect, retry, hold, release, remove, reroute and discard shadows of a running hub's queue", runQueue)
}

const queueAbout = `Acts on the queue of a running hub through its control socket (control.sock in the
server's data_dir, owner-only). Every action is written to the hub's tracking log with
the user who ran it.

  list [--messages] [filters]     queues by next hop: kind, messages, held, oldest age,
                                  next retry and last error; --messages lists messages
  show ID                         envelope, each recipient's state, and the message's history
  retry [QUEUE|ID...] [filters]   attempt now, backoff reset (no target: every queue)
  hold (QUEUE|ID...|filters|--all)     never attempt, until released (kept across restarts)
  release (QUEUE|ID...|filters|--all)  make held recipients due now; a message in the poison
                                  queue (it crashed the hub twice) leaves it, due now
  remove ID... [--ndr]            delete messages: silently, or failing what is pending with
                                  a non-delivery report to the sender (5.3.0 QUEUE.Admin)
  reroute [QUEUE|ID...] [filters] route again with the configuration in force; recipients whose
                                  next hop changes are attempted now
  discard (QUEUE|ID...|filters|--all)  give up shadows (queue shadow:HUB): kept no longer for
                                  the hub holding their primary; never delivered from here
  dump ID                         the raw message, as queued

A QUEUE is a next hop as "list" shows it: mailbox:SERVER, connector:NAME@SERVER,
hub:SERVER, unreachable, submission; shadow:SERVER, the shadows of what SERVER holds
(kept until it delivers them onward; delivered from here if it is lost); or poison, the messages that were being processed
during two consecutive crashes of the hub (never attempted nor expired until released
or removed). Filters pick recipients; a message matches when one
of its recipients does.`

func runQueue(env *Env, args []string) int {
	fs := newFlags(env, "queue", "[--config FILE --server NAME] <list|show|retry|hold|release|remove|reroute|discard|dump> [args]", queueAbout)
	var hf hubFlags
	hf.register(fs)
	var sel control.Select
	fs.StringVar(&sel.Sender, "sender", "", "filter: envelope sender contains this")
	fs.StringVar(&sel.Recipient, "recipient", "", "filter: recipient address contains this")
	fs.StringVar(&sel.Domain, "domain", "", "filter: recipient domain is this")
	fs.StringVar(&sel.Type, "type", "", "filter: recipient address type (SMTP, FAX, X400...)")
	fs.StringVar(&sel.NextHop, "next-hop", "", "filter: the recipient's queue (next hop)")
	fs.StringVar(&sel.State, "state", "", "filter: ready, retry, held, poison or shadow")
	fs.StringVar(&sel.OlderThan, "older-than", "", "filter: messages that arrived longer ago than this (30m, 2h)")
	fs.BoolVar(&sel.Messages, "messages", false, "list: one line per message instead of per queue")
	fs.BoolVar(&sel.All, "all", false, "hold, release, discard: every queued message")
	fs.BoolVar(&sel.NDR, "ndr", false, "remove: send the sender a non-delivery report")
	asJSON := fs.Bool("json", false, "print JSON (one object per line) instead of text")
	if code, ok := parseFlags(env, fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		return usageError(env, fs, "name a subcommand: list, show, retry, hold, release, remove, reroute, discard or dump")
	}
	sub, targets := fs.Arg(0), fs.Args()[1:]
	ops := map[string]string{"list": control.OpQueueList, "show": control.OpQueueShow, "retry": control.OpQueueRetry,
		"hold": control.OpQueueHold, "release": control.OpQueueRelease, "remove": control.OpQueueRemove,
		"reroute": control.OpQueueReroute, "dump": control.OpQueueDump, "discard": control.OpQueueDiscard}
	op, ok := ops[sub]
	if !ok {
		return usageError(env, fs, "unknown subcommand %q: use list, show, retry, hold, release, remove, reroute, discard or dump", sub)
	}
	switch {
	case sel.NDR && sub != "remove":
		return usageError(env, fs, "--ndr goes with remove")
	case sel.Messages && sub != "list":
		return usageError(env, fs, "--messages goes with list")
	case sel.All && sub != "hold" && sub != "release" && sub != "discard":
		return usageError(env, fs, "--all goes with hold, release or discard")
	}
	if sub == "remove" && (sel.Sender != "" || sel.Recipient != "" || sel.Domain != "" || sel.Type != "" || sel.NextHop != "" || sel.State != "" || sel.OlderThan != "") {
		return usageError(env, fs, "remove takes queue IDs, not filters: find them with \"waypost queue list --messages\" and the filters")
	}
	for _, t := range targets {
		if looksLikeID(t) {
			sel.IDs = append(sel.IDs, strings.ToLower(t))
			continue
		}
		if sub == "show" || sub == "dump" || sub == "remove" || sel.Queue != "" {
			return usageError(env, fs, "%q is not a queue ID (16 hex digits, \"-\", 12 hex digits: \"waypost queue list --messages\" shows them)", t)
		}
		sel.Queue = t
	}
	if (sub == "show" || sub == "dump") && len(sel.IDs) != 1 {
		return usageError(env, fs, "%s takes one queue ID", sub)
	}
	if sub == "list" && (len(sel.IDs) > 0 || sel.Queue != "") {
		sel.Messages = sel.Messages || len(sel.IDs) > 0
	}
	c, ok := hf.dial(env)
	if !ok {
		return exitFail
	}
	defer c.Close()

	switch sub {
	case "list":
		var res control.QueueList
		if err := c.Call(op, sel, &res); err != nil {
			return hubError(env, err)
		}
		if *asJSON {
			return printJSONLines(env, res.Queues, res.Messages)
		}
		if sel.Messages {
			printMessages(env.Stdout, &res)
		} else {
			printQueues(env.Stdout, &res)
		}
	case "show":
		var res control.MessageDetail
		if err := c.Call(op, sel, &res); err != nil {
			return hubError(env, err)
		}
		if *asJSON {
			return printJSON(env, res)
		}
		printDetail(env.Stdout, &res)
	case "dump":
		var info control.DumpInfo
		r, _, err := c.CallData(op, sel, &info)
		if err != nil {
			return hubError(env, err)
		}
		if _, err := io.Copy(env.Stdout, r); err != nil {
			return fail(env, "dump of %s: %v", sel.IDs[0], err)
		}
	default:
		var res control.Action
		if err := c.Call(op, sel, &res); err != nil {
			return hubError(env, err)
		}
		if *asJSON {
			return printJSON(env, res)
		}
		printAction(env.Stdout, sub, &res, sel.NDR)
	}
	return exitOK
}

// looksLikeID reports whether s has the shape of a queue ID.
func looksLikeID(s string) bool {
	if len(s) != 29 || s[16] != '-' {
		return false
	}
	for i, c := range strings.ToLower(s) {
		if i != 16 && !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func printJSON(env *Env, v any) int {
	enc := json.NewEncoder(env.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fail(env, "writing output: %v", err)
	}
	return exitOK
}

func printJSONLines(env *Env, queues []control.Queue, msgs []control.Message) int {
	enc := json.NewEncoder(env.Stdout)
	enc.SetEscapeHTML(false)
	for _, q := range queues {
		if err := enc.Encode(q); err != nil {
			return fail(env, "writing output: %v", err)
		}
	}
	for _, m := range msgs {
		if err := enc.Encode(m); err != nil {
			return fail(env, "writing output: %v", err)
		}
	}
	return exitOK
}

// age prints a duration the way a person reads it: 45s, 12m, 3h5m, 2d4h.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// when prints a next-attempt time relative to now.
func nextIn(t, now time.Time) string {
	switch {
	case t.IsZero():
		return "-"
	case !t.After(now):
		return "now"
	}
	return "in " + age(t.Sub(now))
}

func cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}

func printQueues(w io.Writer, res *control.QueueList) {
	if len(res.Queues) == 0 {
		fmt.Fprintf(w, "%s: the queue is empty\n", res.Server)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tKIND\tMESSAGES\tRECIPIENTS\tHELD\tOLDEST\tNEXT RETRY\tLAST ERROR")
	for _, q := range res.Queues {
		kind := q.Kind
		if q.Delivery != "" {
			kind += "/" + q.Delivery
		}
		next := nextIn(q.NextRetry, res.Now)
		if q.NextRetry.IsZero() && q.Held > 0 {
			next = "held"
		}
		if q.Kind == "poison" {
			next = "never (release or remove)"
		}
		last := "-"
		if q.LastError != "" || q.LastStatus != "" {
			last = cut(strings.TrimSpace(q.LastStatus+" "+q.LastError), 100)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", q.Queue, kind, q.Messages, q.Recipients, q.Held,
			age(time.Duration(q.OldestAge*control.Seconds(time.Second))), next, last)
	}
	tw.Flush()
}

func printMessages(w io.Writer, res *control.QueueList) {
	if len(res.Messages) == 0 {
		fmt.Fprintf(w, "%s: no queued message matches\n", res.Server)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAGE\tSIZE\tFROM\tRECIPIENT\tSTATE\tQUEUE\tNEXT\tLAST ERROR")
	for _, m := range res.Messages {
		from := m.From
		if from == "" {
			from = "<>"
		}
		for i, r := range m.Recipients {
			id, a, size, f := m.ID, age(time.Duration(m.Age*control.Seconds(time.Second))), fmt.Sprint(m.Size), from
			if i > 0 {
				id, a, size, f = "", "", "", ""
			}
			last := "-"
			if r.LastError != "" || r.LastStatus != "" {
				last = cut(strings.TrimSpace(r.LastStatus+" "+r.LastError), 80)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, a, size, f, r.Type+":"+r.Address, r.State,
				orDash(r.NextHop), nextIn(r.NextAttempt, res.Now), last)
		}
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printDetail(w io.Writer, d *control.MessageDetail) {
	from := d.From
	if from == "" {
		from = "(null sender)"
	}
	now := d.Arrival.Add(time.Duration(d.Age * control.Seconds(time.Second)))
	fmt.Fprintf(w, "ID:          %s\n", d.ID)
	fmt.Fprintf(w, "From:        %s\n", from)
	fmt.Fprintf(w, "Arrival:     %s (%s ago)\n", d.Arrival.UTC().Format(time.RFC3339), age(now.Sub(d.Arrival)))
	fmt.Fprintf(w, "Size:        %d bytes\n", d.Size)
	if d.ReceivedBy != "" {
		rb := d.ReceivedBy
		if d.Auth != "" {
			rb += " (authenticated as " + d.Auth + ")"
		}
		fmt.Fprintf(w, "Received by: %s\n", rb)
	}
	if d.EnvID != "" || d.Ret != "" {
		fmt.Fprintf(w, "DSN:         ENVID=%s RET=%s\n", orDash(d.EnvID), orDash(d.Ret))
	}
	if d.Poison != "" {
		fmt.Fprintf(w, "Poison:      %s\n", d.Poison)
		fmt.Fprintf(w, "             (\"waypost queue release %s\" to attempt it again, or remove it)\n", d.ID)
	}
	fmt.Fprintln(w, "Recipients:")
	for _, r := range d.Recipients {
		fmt.Fprintf(w, "  %s:%s", r.Type, r.Address)
		if r.Written != "" && r.Written != r.Address {
			fmt.Fprintf(w, " (written %s)", r.Written)
		}
		fmt.Fprintf(w, "\n    state %s, queue %s, %d attempt(s)", r.State, orDash(r.NextHop), r.Attempts)
		if !r.LastAttempt.IsZero() {
			fmt.Fprintf(w, ", last %s", r.LastAttempt.UTC().Format(time.RFC3339))
		}
		if !r.NextAttempt.IsZero() {
			fmt.Fprintf(w, ", next %s", nextIn(r.NextAttempt, now))
		}
		fmt.Fprintln(w)
		if r.LastStatus != "" || r.LastError != "" {
			host := ""
			if r.RemoteHost != "" {
				host = r.RemoteHost + ": "
			}
			fmt.Fprintf(w, "    last result: %s %s%s\n", r.LastStatus, host, strings.TrimSpace(r.LastError))
		}
		if r.TLS != "" {
			fmt.Fprintf(w, "    TLS policy: %s\n", r.TLS)
		}
	}
	fmt.Fprintln(w, "History (tracking log):")
	if len(d.History) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, e := range d.History {
		line := e.Time.UTC().Format(time.RFC3339) + " " + e.Event
		for _, f := range []string{e.Recipient, e.NextHop, e.Status, e.Detail} {
			if f != "" {
				line += " " + f
			}
		}
		if e.Actor != "" {
			line += " (by " + e.Actor + ")"
		}
		fmt.Fprintln(w, "  "+line)
	}
}

func printAction(w io.Writer, sub string, a *control.Action, ndr bool) {
	switch sub {
	case "remove":
		how := "silently"
		if ndr {
			how = "with a non-delivery report to the sender (as NOTIFY allows)"
		}
		fmt.Fprintf(w, "removed %d message(s) %s: %s\n", len(a.Messages), how, strings.Join(a.Messages, " "))
	case "reroute":
		fmt.Fprintf(w, "reroute: %d recipient(s) of %d message(s) move to a new next hop\n", a.Recipients, len(a.Messages))
		for _, m := range a.Moves {
			fmt.Fprintf(w, "  %s %s: %s -> %s\n", m.ID, m.Recipient, m.From, m.To)
		}
	default:
		what := map[string]string{"retry": "due now, backoff reset", "hold": "held", "release": "released, due now", "discard": "no longer kept as shadows"}[sub]
		fmt.Fprintf(w, "%s: %d recipient(s) of %d message(s) %s\n", sub, a.Recipients, len(a.Messages), what)
	}
	for _, s := range a.Skipped {
		fmt.Fprintf(w, "  note: %s\n", s)
	}
}
