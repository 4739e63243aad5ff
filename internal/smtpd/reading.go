package smtpd

import (
	"bytes"
	"errors"
	"io"
	"net"
	"time"
)

// Reading the client's input with timeouts: a command line within
// command_timeout, message data within data_timeout and min_data_rate
// (shorter under stress, stress.go).

// readMore reads from the client into in, until deadline unless it is zero
// (then the deadline set before holds).
func (g *guard) readMore(deadline time.Time) {
	if g.rerr != nil {
		return
	}
	// in is always a slice of rbuf, which go-smtp holds nothing of now
	// (fill runs only when out is used up): move it to the front.
	g.in = g.rbuf[:copy(g.rbuf, g.in)]
	g.mu.Lock()
	if !deadline.IsZero() {
		g.readDL = deadline
		g.raw.SetReadDeadline(deadline)
	}
	rw := g.rw
	g.mu.Unlock()
	n, err := rw.Read(g.in[len(g.in):cap(g.in)])
	g.in = g.in[:len(g.in)+n]
	if err != nil && n == 0 {
		g.rerr = err
	}
}

// readData reads message data (DATA or a BDAT chunk). Each read must end
// within data_timeout, and, with min_data_rate, the data as a whole must
// keep up with that rate after a grace of data_timeout (Postfix's
// smtpd_min_data_rate): the budget starts at data_timeout when the data
// begins, each byte read adds 1/min_data_rate seconds, and it never runs
// beyond data_timeout from now. A client trickling below the rate runs out
// of budget and is cut off (421 4.4.2) however often it sends a byte.
func (g *guard) readData() {
	rc := g.l.rc
	now := time.Now()
	timeout := g.l.dataTimeout()
	if since, ok := g.l.stressed(); ok && rc.MinDataRate > 0 {
		// Under stress the grace before min_data_rate is the stress
		// timeout, counted from the data's start or the stress, whichever
		// came later: a trickle is cut off within seconds, a transfer that
		// keeps up the rate goes on.
		g.mu.Lock()
		start, n := g.dataStart, g.dataBytes
		g.mu.Unlock()
		if b := maxTime(since, start).Add(g.l.stressTimeout + time.Duration(n)*time.Second/time.Duration(rc.MinDataRate)); g.budget.After(b) {
			g.budget = b
		}
	}
	var dl time.Time
	slow := false
	if timeout > 0 {
		dl = now.Add(timeout)
		if rc.MinDataRate > 0 && g.budget.Before(dl) {
			dl, slow = g.budget, true
		}
	}
	if _, ok := g.l.stressed(); ok {
		slow = true // a wait shortened by stress: too slow for now
	}
	before := len(g.in)
	g.readMore(dl)
	n := len(g.in) - before
	if n > 0 && rc.MinDataRate > 0 {
		g.budget = g.budget.Add(time.Duration(n) * time.Second / time.Duration(rc.MinDataRate))
		if limit := time.Now().Add(timeout); g.budget.After(limit) {
			g.budget = limit
		}
	}
	var ne net.Error
	timedOut := slow && g.rerr != nil && errors.As(g.rerr, &ne) && ne.Timeout()
	g.mu.Lock()
	g.dataBytes += int64(n)
	if timedOut {
		g.slow = true
	}
	g.mu.Unlock()
}

// startDataLocked starts the time budget of readData (and the count of
// stress.go);
// mu is held.
func (g *guard) startDataLocked() {
	now := time.Now()
	g.budget = now.Add(g.l.dataTimeout())
	g.dataStart, g.dataBytes = now, 0
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// tooSlow reports whether the client was cut off for min_data_rate.
func (g *guard) tooSlow() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.slow
}

// fillCommand hands on the next command line.
func (g *guard) fillCommand() error {
	limit := g.l.rc.MaxLineLength
	timed := false
	for {
		if i := bytes.IndexByte(g.in, '\n'); i >= 0 {
			if i+1 > limit {
				return g.commandTooLong()
			}
			line := g.in[:i+1]
			g.in = g.in[i+1:]
			out, err := g.command(line)
			if err != nil {
				return err
			}
			if out != nil {
				g.out = out
				return nil
			}
			timed = false
			continue
		}
		if len(g.in) >= limit {
			return g.commandTooLong()
		}
		if g.rerr != nil {
			return g.rerr
		}
		// One deadline for the whole line: a client that sends a byte now
		// and then is still cut off at command_timeout.
		var dl time.Time
		if d := g.l.commandTimeout(); !timed && d > 0 {
			dl = time.Now().Add(d)
		}
		timed = true
		g.readMore(dl)
	}
}

func (g *guard) commandTooLong() error {
	g.mu.Lock()
	g.lastCmd = "(line too long)"
	g.closeAfterWrite = true
	g.mu.Unlock()
	g.writeReply(replyCommandTooLong)
	g.Close()
	return io.EOF
}

// fillData hands on message data up to the end of data.
func (g *guard) fillData() error {
	for len(g.out) == 0 {
		if len(g.in) == 0 {
			if g.rerr != nil {
				return g.rerr
			}
			g.readData()
			continue
		}
		g.mu.Lock()
		sc := g.scan
		g.mu.Unlock()
		out, n, done := sc.run(g.in, g.obuf[:0])
		g.obuf = out
		g.in = g.in[n:]
		g.out = out
		if done {
			g.mu.Lock()
			g.phase = phaseCommand
			g.mu.Unlock()
			break
		}
	}
	return nil
}

// fillChunk hands on the rest of a BDAT chunk.
func (g *guard) fillChunk() error {
	for len(g.in) == 0 {
		if g.rerr != nil {
			return g.rerr
		}
		g.readData()
	}
	n := int64(len(g.in))
	if n > g.chunkLeft {
		n = g.chunkLeft
	}
	g.out = g.in[:n]
	g.in = g.in[n:]
	g.chunkLeft -= n
	if g.chunkLeft == 0 {
		g.mu.Lock()
		g.phase = phaseCommand
		g.mu.Unlock()
	}
	return nil
}
