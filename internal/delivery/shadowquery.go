package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/shadow"
)

// QueryShadows asks the relay listener of another hub (the first of
// Hosts; Hub must be set) what became of its queue IDs ids: the
// discharge query of package shadow, on a session proven with the hub
// secret. MAIL FROM:<>, one RCPT TO:<ID@shadow.invalid> per ID and RSET
// go in one write when the hub offers PIPELINING (RFC 2920), so the
// query costs one round trip on a pooled session. Each RCPT is answered
// 250 "shadow ID done|pending|unknown"; an ID without a readable answer
// is left out of the map. An error means the hub could not be asked.
func (a *SMTP) QueryShadows(ctx context.Context, ids []string) (out map[string]shadow.Status, err error) {
	if a.Hub == nil || len(a.Hosts) == 0 {
		return nil, errors.New("shadow query: not a hub relay agent")
	}
	defer func() {
		if v := recover(); v != nil {
			err = panicError(a.Log, "asking a hub about its primaries", v)
		}
	}()
	host := a.Hosts[0]
	cn, fail := a.open(ctx, host)
	if fail != nil {
		return nil, queryFailed(host, fail)
	}
	lines := make([]string, 0, len(ids)+2)
	lines = append(lines, "MAIL FROM:<>")
	for _, id := range ids {
		lines = append(lines, "RCPT TO:<"+shadow.QueryAddress(id)+">")
	}
	lines = append(lines, "RSET")
	replies, err := cn.c.pipeline(lines)
	if err != nil && cn.reused && len(replies) == 0 {
		// A kept session the hub closed meanwhile: once more, afresh.
		cn.c.close()
		if cn, fail = a.dial(ctx, host); fail != nil {
			return nil, queryFailed(host, fail)
		}
		replies, err = cn.c.pipeline(lines)
	}
	if err != nil {
		cn.c.close()
		return nil, fmt.Errorf("shadow query to %s: %w", host, err)
	}
	if replies[0].Code/100 != 2 {
		a.finish(cn, replies[len(replies)-1].Code/100 == 2)
		return nil, fmt.Errorf("shadow query to %s: MAIL FROM:<> refused: %s", host, replies[0].Error())
	}
	out = make(map[string]shadow.Status, len(ids))
	for _, r := range replies[1 : len(replies)-1] {
		if r.Code/100 != 2 {
			continue
		}
		if id, st, ok := shadow.ParseReply(r.Message()); ok {
			out[id] = st
		}
	}
	a.finish(cn, replies[len(replies)-1].Code/100 == 2)
	return out, nil
}

// pipeline sends lines, in one write when the server offers PIPELINING
// (else one at a time), and returns their replies in order. err is a
// broken connection or a malformed reply; replies holds those read.
func (c *client) pipeline(lines []string) ([]*smtpReply, error) {
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			return nil, errors.New("a command has a line break")
		}
	}
	out := make([]*smtpReply, 0, len(lines))
	if !c.has("PIPELINING") {
		for _, l := range lines {
			r, err := c.cmd(l)
			if err != nil {
				return out, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	c.deadline()
	var batch []byte
	for _, l := range lines {
		batch = append(append(batch, l...), "\r\n"...)
	}
	// Written beside the reading, so that a long batch cannot deadlock
	// with a server that waits for its replies to be read (as begin).
	written := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				written <- panicError(c.log, "sending a pipelined batch", v)
			}
		}()
		_, err := c.w.Write(batch)
		if err == nil {
			err = c.w.Flush()
		}
		written <- err
	}()
	var err error
	for range lines {
		var r *smtpReply
		if r, err = readReply(c.r); err != nil {
			c.raw.SetWriteDeadline(time.Now())
			break
		}
		out = append(out, r)
	}
	if werr := <-written; werr != nil && err == nil {
		err = werr
	}
	return out, err
}

// queryFailed is the error of a session that could not be opened.
func queryFailed(host string, fail *Result) error {
	why := fail.RemoteText
	if why == "" {
		why = fail.Text
	}
	return fmt.Errorf("shadow query to %s: %s", host, why)
}
