package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/status"
)

// Pipe runs a program once per recipient with the message on its standard
// input, as Postfix's pipe(8) does for fax gateways: the command is an argv
// list, never a shell, and {sender}, {recipient}, {type} and {address} are
// replaced inside single argv elements, so a hostile address stays one
// argument. Exit 0 is delivered; 75 (EX_TEMPFAIL) or running past Timeout
// is a retry; any other exit fails the recipient with the program's
// standard error (cut) in the report.
type Pipe struct {
	Command       []string
	Timeout       time.Duration
	DefaultDomain string // for {recipient} of non-SMTP recipients (IMCEA)
}

// maxStderr is how much of a program's standard error goes into a report.
const maxStderr = 512

// Deliver implements Agent.
func (p *Pipe) Deliver(ctx context.Context, m *Message) []Result {
	out := make([]Result, len(m.Recipients))
	for i, r := range m.Recipients {
		out[i] = p.run(ctx, m, r)
	}
	return out
}

func (p *Pipe) run(ctx context.Context, m *Message, r Recipient) Result {
	if len(p.Command) == 0 {
		return Result{Class: Failed, Status: status.Misconfigured, Text: "pipe connector has no command"}
	}
	recipient := r.Address
	if !strings.EqualFold(r.Type, "SMTP") {
		recipient = encodeIMCEA(r, p.DefaultDomain)
	}
	repl := strings.NewReplacer("{sender}", m.From, "{recipient}", recipient, "{type}", strings.ToUpper(r.Type), "{address}", r.Address)
	argv := make([]string, len(p.Command))
	for i, a := range p.Command {
		argv[i] = repl.Replace(a)
		if strings.IndexByte(argv[i], 0) >= 0 {
			// No program can be given a NUL (an IMCEA "+00"): a permanent
			// failure, not a retry until expiry.
			return Result{Class: Failed, Status: status.BadMailboxSyntax, Text: fmt.Sprintf("the address %q holds a NUL character, which cannot be passed to %s", r.Address, p.Command[0])}
		}
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, err := m.Open()
	if err != nil {
		return Result{Class: Retry, Status: status.SystemTransient, Text: "reading the queued message: " + err.Error()}
	}
	defer body.Close()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = body
	var stderr bytes.Buffer
	cmd.Stderr = &limited{w: &stderr, n: maxStderr}
	cmd.Stdout = io.Discard
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	text := strings.TrimSpace(stderr.String())
	var exit *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return Result{Class: Retry, Status: status.Expired, Text: fmt.Sprintf("%s did not finish within %s", argv[0], timeout), RemoteHost: argv[0], RemoteText: text}
	case err == nil:
		return Result{Class: Relayed, Status: status.OK, Text: "accepted by " + argv[0], RemoteHost: argv[0]}
	case errors.As(err, &exit) && exit.ExitCode() == 75:
		return Result{Class: Retry, Status: status.SystemTransient, Text: argv[0] + " asked to try again later (exit 75)", RemoteHost: argv[0], RemoteText: text}
	case errors.As(err, &exit):
		if text == "" {
			text = fmt.Sprintf("exit status %d", exit.ExitCode())
		}
		return Result{Class: Failed, Status: status.SystemPermanent, Text: fmt.Sprintf("%s failed (exit %d)", argv[0], exit.ExitCode()), RemoteHost: argv[0], RemoteText: text}
	}
	// The program could not be started: a configuration problem, retried
	// so that fixing it delivers the mail.
	return Result{Class: Retry, Status: status.MisconfiguredTransient, Text: "cannot run " + argv[0] + ": " + err.Error(), RemoteHost: argv[0]}
}

// limited writes at most n bytes to w and drops the rest.
type limited struct {
	w io.Writer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(l.n, len(p))
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
