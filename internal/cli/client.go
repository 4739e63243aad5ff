package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/waypost/waypost/internal/client"
)

func init() {
	register("client", "the cached-mode mail client: login, sync, send, inbox, show, status", runClient)
}

// Exit codes of `waypost client` beyond exitOK, exitFail and exitUsage.
const (
	exitWaiting = 3 // work is saved in the outbox and finishes at a later sync (offline, or held)
	exitRefused = 4 // some recipients cannot be reached: a local non-delivery report is in the inbox
)

const clientAbout = `The cached-mode client keeps an offline profile in DIR: the address types the
user's site may send to (with their version), the offline address book, an outbox,
a sent folder and an inbox. It works without a connection to the hub.

Commands:
  login --api URL --smtp HOST:PORT --user ADDRESS [--password-file F]
        checks the password with the hub (read from the file, else from the first
        line of standard input), stores it with mode 0600, and downloads the address
        types and the offline address book
  send --to ADDR... [--cc ADDR...] [--bcc ADDR...] --subject S [--body-file F|-] [--body TEXT]
        writes the message into the outbox and submits it when the hub answers;
        a recipient may be an SMTP address, a one-off "[FAX:+1 555 0100]" or
        "Name[FAX:+1 555 0100]", or a typed address "FAX:+1 555 0100"
  sync [--wait D]
        refreshes the address types and the address book, sends the outbox, and
        downloads new messages of the mailbox (the hub's non-delivery reports too);
        --wait first waits up to D for the hub to announce new address types
  inbox [--json]    lists the inbox
  show ID           prints a message of the inbox (RFC 5322)
  status [--json]   online or not, cache versions and ages, outbox and inbox sizes

A recipient of an address type missing from the cached list is refused (a local
non-delivery report in the inbox) only after the hub has confirmed the list with
a conditional request; offline, it is held in the outbox and decided at the next
sync. Recipients that can be sent to still go.

Exit codes:
  0  done (send: every recipient was accepted by the hub)
  1  the command failed (no profile, refused password, bad address, I/O error)
  2  bad flags or arguments
  3  waiting: the message, or some of its recipients, stays in the outbox until
     a later sync (hub unreachable, address type not yet confirmed, hub said try
     later); sync: the hub was unreachable or the outbox is not empty
  4  refused: some recipients cannot be reached and a local non-delivery report
     is in the inbox (the others were sent or wait); takes precedence over 3`

func runClient(env *Env, args []string) int {
	fs := newFlags(env, "client", "--profile DIR <login|sync|send|inbox|show|status> [flags]", clientAbout)
	profile := fs.String("profile", "", "the profile folder (created by login, mode 0700)")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit of each request to the hub")
	// The global flags come before the subcommand; parse up to it.
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if a := args[i]; a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(env.Stdout)
			fs.Usage()
			return exitOK
		}
		name := strings.TrimLeft(args[i], "-")
		if f := fs.Lookup(name); f != nil && !strings.Contains(name, "=") && !isBool(f) {
			i++
		}
		i++
	}
	if err := fs.Parse(args[:min(i, len(args))]); err != nil {
		return exitUsage
	}
	rest := args[min(i, len(args)):]
	if len(rest) == 0 {
		return usageError(env, fs, "name a command: login, sync, send, inbox, show or status")
	}
	c := &clientCmd{env: env, profile: *profile, timeout: *timeout}
	sub, subArgs := rest[0], rest[1:]
	switch sub {
	case "login":
		return c.login(subArgs)
	case "sync":
		return c.sync(subArgs)
	case "send":
		return c.send(subArgs)
	case "inbox":
		return c.inbox(subArgs)
	case "show":
		return c.show(subArgs)
	case "status":
		return c.status(subArgs)
	case "help":
		fs.SetOutput(env.Stdout)
		fs.Usage()
		return exitOK
	}
	return usageError(env, fs, "unknown client command %q: use login, sync, send, inbox, show or status", sub)
}

type clientCmd struct {
	env     *Env
	profile string
	timeout time.Duration
}

// flags makes the flag set of a client subcommand; --profile may also be
// given after the subcommand.
func (c *clientCmd) flags(name, args, about string) *flag.FlagSet {
	fs := newFlags(c.env, "client "+name, args, about)
	fs.StringVar(&c.profile, "profile", c.profile, "the profile folder")
	fs.DurationVar(&c.timeout, "timeout", c.timeout, "time limit of each request to the hub")
	return fs
}

func (c *clientCmd) parse(fs *flag.FlagSet, args []string, positional bool) (int, bool) {
	if code, ok := parseFlags(c.env, fs, args); !ok {
		return code, false
	}
	if !positional && fs.NArg() > 0 {
		return usageError(c.env, fs, "unexpected argument %q", fs.Arg(0)), false
	}
	if c.profile == "" {
		return usageError(c.env, fs, "--profile DIR is required (the folder of the client's profile)"), false
	}
	return exitOK, true
}

// open opens the profile; the caller closes it.
func (c *clientCmd) open() (*client.Profile, bool) {
	p, err := client.Open(c.profile)
	if err != nil {
		fail(c.env, "client: %v", err)
		return nil, false
	}
	p.Timeout = c.timeout
	return p, true
}

func (c *clientCmd) ctx() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func (c *clientCmd) json(v any) int {
	enc := json.NewEncoder(c.env.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fail(c.env, "writing output: %v", err)
	}
	return exitOK
}

func (c *clientCmd) login(args []string) int {
	fs := c.flags("login", "--api URL --smtp HOST:PORT --user ADDRESS [--password-file F]",
		"Creates (or updates) the profile: checks the password with the hub's API, stores it\n"+
			"in DIR/credentials with mode 0600, and downloads the address types of the user's site\n"+
			"and the offline address book. The password is read from --password-file, else from\n"+
			"the first line of standard input.")
	apiURL := fs.String("api", "", "base URL of the hub's HTTP API, e.g. http://127.0.0.1:8025")
	smtpAddr := fs.String("smtp", "", "HOST:PORT of the hub's submission receive connector")
	user := fs.String("user", "", "the user's SMTP address (the mailbox's login name)")
	pwFile := fs.String("password-file", "", "file whose first line is the password (default: standard input)")
	if code, ok := c.parse(fs, args, false); !ok {
		return code
	}
	if *apiURL == "" || *smtpAddr == "" || *user == "" {
		return usageError(c.env, fs, "--api, --smtp and --user are all required")
	}
	var in io.Reader = c.env.Stdin
	where := "standard input"
	if *pwFile != "" {
		f, err := os.Open(*pwFile)
		if err != nil {
			return fail(c.env, "client login: --password-file: %v", err)
		}
		defer f.Close()
		in, where = f, *pwFile
	}
	line, _ := bufio.NewReader(in).ReadString('\n')
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return fail(c.env, "client login: no password on the first line of %s; try: printf '%%s\\n' 'the password' | waypost client --profile DIR login ...", where)
	}
	ctx, cancel := c.ctx()
	defer cancel()
	p, err := client.Login(ctx, c.profile, client.Settings{API: *apiURL, SMTP: *smtpAddr, User: *user}, pw, c.timeout)
	if err != nil {
		return fail(c.env, "client login: %v", err)
	}
	defer p.Close()
	types, _, err := p.Types()
	if err != nil {
		return fail(c.env, "client login: %v", err)
	}
	book, err := p.Book()
	if err != nil {
		return fail(c.env, "client login: %v", err)
	}
	fmt.Fprintf(c.env.Stdout, "logged in as %s; profile %s\n", *user, c.profile)
	fmt.Fprintf(c.env.Stdout, "address types of site %s: %s (version %s)\n", types.Site, strings.Join(types.Types, ", "), types.Version)
	fmt.Fprintf(c.env.Stdout, "offline address book: %d entries (version %s)\n", len(book.Entries), book.Version)
	return exitOK
}

// stringList is a flag that may be given more than once.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func (c *clientCmd) send(args []string) int {
	fs := c.flags("send", "--to ADDR... [--cc ADDR...] [--bcc ADDR...] --subject S [--body-file F|-] [--body TEXT] [--json]",
		"Writes a message into the outbox and submits it when the hub answers. Each flag takes\n"+
			"one recipient and may be repeated; more arguments are To recipients. Exit 0: every\n"+
			"recipient accepted; 3: some wait in the outbox for a sync; 4: some refused, with a\n"+
			"local non-delivery report in the inbox.")
	var to, cc, bcc stringList
	fs.Var(&to, "to", "a To recipient (repeat for more)")
	fs.Var(&cc, "cc", "a Cc recipient (repeat for more)")
	fs.Var(&bcc, "bcc", "a Bcc recipient, not shown in the message (repeat for more)")
	subject := fs.String("subject", "", "the subject")
	bodyFile := fs.String("body-file", "", "file with the body text (UTF-8); - reads standard input")
	body := fs.String("body", "", "the body text")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if code, ok := c.parse(fs, args, true); !ok {
		return code
	}
	to = append(to, fs.Args()...)
	if *bodyFile != "" && *body != "" {
		return usageError(c.env, fs, "give --body-file or --body, not both")
	}
	text := *body
	if *bodyFile != "" {
		var b []byte
		var err error
		if *bodyFile == "-" {
			b, err = io.ReadAll(c.env.Stdin)
		} else {
			b, err = os.ReadFile(*bodyFile)
		}
		if err != nil {
			return fail(c.env, "client send: --body-file: %v", err)
		}
		text = string(b)
	}
	p, ok := c.open()
	if !ok {
		return exitFail
	}
	defer p.Close()
	ctx, cancel := c.ctx()
	defer cancel()
	res, err := p.Send(ctx, client.Draft{To: to, Cc: cc, Bcc: bcc, Subject: *subject, Body: text})
	if err != nil && res.ID == "" {
		return fail(c.env, "client send: %v", err)
	}
	code := c.report(res, *asJSON, "send")
	if err != nil {
		return fail(c.env, "client send: %v", err)
	}
	return code
}

// report prints the result of send or sync and returns its exit code.
func (c *clientCmd) report(res client.Result, asJSON bool, what string) int {
	code := exitOK
	switch {
	case res.Refused > 0:
		code = exitRefused
	case res.Held+res.Pending > 0 || what == "sync" && (!res.Online || res.Outbox > 0):
		code = exitWaiting
	}
	if asJSON {
		if c.json(res) != exitOK {
			return exitFail
		}
		return code
	}
	w := c.env.Stdout
	if res.ID != "" {
		fmt.Fprintf(w, "message %s\n", res.ID)
	}
	if what == "sync" && !res.Online {
		fmt.Fprintln(w, "offline: the hub did not answer; nothing was refreshed")
	}
	if res.Sent > 0 {
		fmt.Fprintf(w, "sent to %d recipient(s)\n", res.Sent)
	}
	if res.Refused > 0 {
		fmt.Fprintf(w, "refused %d recipient(s); see the local non-delivery report: waypost client show %s\n", res.Refused, strings.Join(res.Reports, " "))
	}
	if res.Held > 0 {
		fmt.Fprintf(w, "held %d recipient(s) in the outbox: their address type is checked with the hub at the next sync\n", res.Held)
	}
	if res.Pending > 0 {
		fmt.Fprintf(w, "queued %d recipient(s) in the outbox: they are submitted at the next sync\n", res.Pending)
	}
	if len(res.Downloaded) > 0 {
		fmt.Fprintf(w, "downloaded %d message(s) into the inbox\n", len(res.Downloaded))
	}
	if what == "sync" {
		fmt.Fprintf(w, "outbox: %d message(s)\n", res.Outbox)
	}
	for _, wn := range res.Warnings {
		fmt.Fprintf(c.env.Stderr, "waypost client %s: %s\n", what, wn)
	}
	return code
}

func (c *clientCmd) sync(args []string) int {
	fs := c.flags("sync", "[--wait D] [--json]",
		"Refreshes the address types (conditional request) and the offline address book, sends\n"+
			"the outbox (deciding held recipients on the hub's current list), and downloads new\n"+
			"messages of the mailbox into the inbox. Exit 0: all done and the outbox is empty;\n"+
			"3: offline, or the outbox is not empty; 4: some recipients refused (local report).\n"+
			"--wait makes it a loop's step: it returns as soon as the hub's list changes.")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	wait := fs.Duration("wait", 0, "first wait up to this long for the hub to announce new address types (long poll), e.g. 60s")
	if code, ok := c.parse(fs, args, false); !ok {
		return code
	}
	ctx, cancel := c.ctx()
	defer cancel()
	if *wait > 0 {
		// Offline, the sync below says so; only a missing profile stops here.
		if _, err := client.WaitForTypes(ctx, c.profile, *wait, c.timeout); errors.Is(err, client.ErrNoProfile) {
			return fail(c.env, "client sync: %v", err)
		}
	}
	p, ok := c.open()
	if !ok {
		return exitFail
	}
	defer p.Close()
	res, err := p.Sync(ctx)
	code := c.report(res, *asJSON, "sync")
	if err != nil {
		return fail(c.env, "client sync: %v", err)
	}
	return code
}

func (c *clientCmd) inbox(args []string) int {
	fs := c.flags("inbox", "[--json]", "Lists the messages of the profile's inbox, oldest first; \"local\" marks the\nnon-delivery reports the client wrote itself.")
	asJSON := fs.Bool("json", false, "print {\"messages\":[{\"id\",\"from\",\"subject\",\"date\",\"size\",\"local\"}]}")
	if code, ok := c.parse(fs, args, false); !ok {
		return code
	}
	p, ok := c.open()
	if !ok {
		return exitFail
	}
	defer p.Close()
	msgs, err := p.Inbox()
	if err != nil {
		return fail(c.env, "client inbox: %v", err)
	}
	if *asJSON {
		return c.json(struct {
			Messages []client.InboxMessage `json:"messages"`
		}{msgs})
	}
	if len(msgs) == 0 {
		fmt.Fprintln(c.env.Stdout, "the inbox is empty")
	}
	for _, m := range msgs {
		mark := ""
		if m.Local {
			mark = " (local)"
		}
		fmt.Fprintf(c.env.Stdout, "%s  %s  %s  %s%s\n", m.ID, m.Date, m.From, m.Subject, mark)
	}
	return exitOK
}

func (c *clientCmd) show(args []string) int {
	fs := c.flags("show", "ID", "Prints a message of the inbox as it is stored (RFC 5322).")
	if code, ok := c.parse(fs, args, true); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(c.env, fs, "name one message id (from \"waypost client inbox\")")
	}
	p, ok := c.open()
	if !ok {
		return exitFail
	}
	defer p.Close()
	b, err := p.Show(fs.Arg(0))
	if err != nil {
		return fail(c.env, "client show: %v", err)
	}
	c.env.Stdout.Write(b)
	return exitOK
}

func (c *clientCmd) status(args []string) int {
	fs := c.flags("status", "[--json]", "Shows whether the hub answers, the cached versions and their ages, and the sizes\nof the outbox and inbox. Exit 0 online or offline; 1 when there is no profile.")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if code, ok := c.parse(fs, args, false); !ok {
		return code
	}
	p, ok := c.open()
	if !ok {
		return exitFail
	}
	defer p.Close()
	ctx, cancel := c.ctx()
	defer cancel()
	st, err := p.Status(ctx)
	if err != nil {
		return fail(c.env, "client status: %v", err)
	}
	if *asJSON {
		return c.json(st)
	}
	w := c.env.Stdout
	state := "online"
	if !st.Online {
		state = "offline (" + st.Error + ")"
	}
	fmt.Fprintf(w, "user:          %s\nhub:           %s, submission %s: %s\n", st.User, st.API, st.SMTP, state)
	fmt.Fprintf(w, "address types: site %s: %s (version %s, confirmed %s)\n", st.AddressTypes.Site, strings.Join(st.AddressTypes.Types, ", "), orNone(st.AddressTypes.Version), ago(st.AddressTypes.AgeSeconds))
	n := 0
	if st.OAB.Entries != nil {
		n = *st.OAB.Entries
	}
	fmt.Fprintf(w, "address book:  %d entries (version %s, confirmed %s)\n", n, orNone(st.OAB.Version), ago(st.OAB.AgeSeconds))
	fmt.Fprintf(w, "outbox:        %d message(s), %d recipient(s) held, %d pending\n", st.Outbox.Messages, st.Outbox.Held, st.Outbox.Pending)
	fmt.Fprintf(w, "inbox:         %d message(s), %d local report(s)\nsent:          %d message(s)\n", st.Inbox.Messages, st.Inbox.Local, st.Sent)
	return exitOK
}

func ago(s int64) string {
	if s < 0 {
		return "never"
	}
	return (time.Duration(s) * time.Second).String() + " ago"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
