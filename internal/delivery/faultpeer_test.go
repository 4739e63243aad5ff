package delivery

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultPeer is a scripted SMTP server on loopback that plays a whole
// dialogue correctly except at one step, where it closes the connection,
// answers garbage or stalls (sends nothing and reads nothing more). The
// steps are named as the client meets them: "greeting", "ehlo",
// "starttls" (the reply to STARTTLS), "handshake" (TLS), "ehlo-tls",
// "auth-plain", "auth-login-1" (the reply to AUTH LOGIN: the user name
// challenge), "auth-login-2" (the password challenge), "auth-login-3" (the
// outcome), "mail", "rcpt-1", "rcpt-2", "data" (the reply to DATA),
// "content" (while the content comes), "final" (the reply to the final
// ".") and "quit". Each RCPT is answered separately, so the fault can hit
// any one of them, pipelined or not.
type faultPeer struct {
	addr       string
	step       string // where the fault is; "" for none
	fault      string // "close", "garbage" or "stall"
	mechs      string // AUTH mechanisms offered; "" for no AUTH
	tls        *tls.Config
	pipelining bool
	challenge  string // the user name challenge of LOGIN, base64; "VXNlcm5hbWU6" unless set

	done chan struct{} // closed at the end of the test: stalls end

	mu       sync.Mutex
	lines    []string // command lines, SASL responses decoded
	messages int      // contents taken with 250
}

// garbage is what a faulty peer says instead of a reply: no reply code.
const garbage = "\x00\xffgarbage \x1b[0m not a reply\r\n"

func startFaultPeer(t *testing.T, configure func(*faultPeer)) *faultPeer {
	t.Helper()
	p := &faultPeer{done: make(chan struct{}), challenge: "VXNlcm5hbWU6"}
	configure(p)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	var wg sync.WaitGroup
	t.Cleanup(func() { close(p.done); ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.serve(c) })
		}
	})
	return p
}

// session is one connection of a faultPeer.
type faultSession struct {
	p    *faultPeer
	c    net.Conn
	r    *bufio.Reader
	tls  bool
	dead bool // the fault happened: the session is over
}

// at plays the fault when this is its step, and reports whether the
// session is over.
func (s *faultSession) at(step string) bool {
	if step == "" || s.p.step != step {
		return false
	}
	s.dead = true
	switch s.p.fault {
	case "close":
	case "garbage":
		s.c.Write([]byte(garbage))
		// Read on until the client hangs up (it must).
		s.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, s.c)
	case "stall":
		<-s.p.done
	}
	return true
}

// reply answers a step, unless the step is the fault's.
func (s *faultSession) reply(step, text string) bool {
	if s.at(step) {
		return false
	}
	_, err := s.c.Write([]byte(text))
	return err == nil
}

func (s *faultSession) line() (string, bool) {
	l, err := s.r.ReadString('\n')
	if err != nil {
		return "", false
	}
	l = strings.TrimRight(l, "\r\n")
	s.p.mu.Lock()
	s.p.lines = append(s.p.lines, l)
	s.p.mu.Unlock()
	return l, true
}

func (p *faultPeer) serve(c net.Conn) {
	s := &faultSession{p: p, c: c, r: bufio.NewReader(c)}
	defer func() { s.c.Close() }()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if !s.reply("greeting", "220 fault.test ESMTP\r\n") {
		return
	}
	rcpts := 0
	for {
		l, ok := s.line()
		if !ok {
			return
		}
		verb, arg, _ := strings.Cut(l, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			step := "ehlo"
			if s.tls {
				step = "ehlo-tls"
			}
			out := "250-fault.test\r\n250-ENHANCEDSTATUSCODES\r\n"
			if p.pipelining {
				out += "250-PIPELINING\r\n"
			}
			if p.tls != nil && !s.tls {
				out += "250-STARTTLS\r\n"
			}
			if p.mechs != "" {
				out += "250-AUTH " + p.mechs + "\r\n"
			}
			if !s.reply(step, out+"250 HELP\r\n") {
				return
			}
		case "STARTTLS":
			if !s.reply("starttls", "220 2.0.0 Ready to start TLS\r\n") || s.at("handshake") {
				return
			}
			tc := tls.Server(c, p.tls)
			if tc.Handshake() != nil {
				return
			}
			s.c, s.r, s.tls = tc, bufio.NewReader(tc), true
		case "AUTH":
			if !s.auth(arg) {
				return
			}
		case "MAIL":
			rcpts = 0
			if !s.reply("mail", "250 2.1.0 Ok\r\n") {
				return
			}
		case "RCPT":
			rcpts++
			if !s.reply("rcpt-"+string(rune('0'+rcpts)), "250 2.1.5 Ok\r\n") {
				return
			}
		case "DATA":
			if !s.reply("data", "354 Go ahead\r\n") || !s.content() {
				return
			}
			if !s.reply("final", "250 2.0.0 Ok: queued as F1\r\n") {
				return
			}
			p.mu.Lock()
			p.messages++
			p.mu.Unlock()
		case "RSET", "NOOP":
			if !s.reply("", "250 2.0.0 Ok\r\n") {
				return
			}
		case "QUIT":
			s.reply("quit", "221 2.0.0 Bye\r\n")
			return
		default:
			if !s.reply("", "502 5.5.2 Unknown command\r\n") {
				return
			}
		}
	}
}

// content reads the content up to the final "."; the fault "content"
// strikes after its first line.
func (s *faultSession) content() bool {
	for first := true; ; first = false {
		l, err := s.r.ReadString('\n')
		if err != nil {
			return false
		}
		if first && s.at("content") {
			return false
		}
		if l == ".\r\n" {
			return true
		}
	}
}

// auth plays PLAIN (one step) or LOGIN (three) and accepts any password.
func (s *faultSession) auth(arg string) bool {
	mech, ir, _ := strings.Cut(arg, " ")
	switch strings.ToUpper(mech) {
	case "PLAIN":
		return s.reply("auth-plain", "235 2.7.0 Authentication successful\r\n")
	case "LOGIN":
		if ir != "" {
			return s.reply("", "501 5.5.2 This peer wants LOGIN without an initial response\r\n")
		}
		if !s.reply("auth-login-1", "334 "+s.p.challenge+"\r\n") {
			return false
		}
		if !s.saslLine() || !s.reply("auth-login-2", "334 UGFzc3dvcmQ6\r\n") {
			return false
		}
		if !s.saslLine() {
			return false
		}
		return s.reply("auth-login-3", "235 2.7.0 Authentication successful\r\n")
	}
	return s.reply("", "504 5.5.4 Unrecognized authentication type\r\n")
}

// saslLine reads a SASL response; "*" cancels the exchange (RFC 4954
// section 4). The decoded response is recorded in place of the line.
func (s *faultSession) saslLine() bool {
	l, ok := s.line()
	if !ok {
		return false
	}
	if l == "*" {
		s.reply("", "501 5.7.0 Authentication cancelled\r\n")
		return false
	}
	b, err := base64.StdEncoding.DecodeString(l)
	if err != nil {
		s.reply("", "501 5.5.2 Cannot decode response\r\n")
		return false
	}
	s.p.mu.Lock()
	s.p.lines[len(s.p.lines)-1] = "decoded: " + string(b)
	s.p.mu.Unlock()
	return true
}

func (p *faultPeer) snapshot() (lines []string, messages int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...), p.messages
}
