package delivery

import (
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/testcert"
)

// rawServer is a scripted SMTP server on loopback, below any library, to
// see exactly what the client writes and when: it records every read
// (what arrived together), every command line and every message as it
// came over the wire (dot-stuffed, up to and with the final "."). It
// offers the EHLO keywords ext, and STARTTLS when tls is set. RCPT of a
// local part starting with "bad" is refused 550 5.1.1; DATA is refused
// 554 when no RCPT was accepted, unless always354.
type rawServer struct {
	addr      string
	name      string // in the greeting and EHLO reply; "raw.test" unless set
	ext       []string
	tls       *tls.Config
	always354 bool
	extra     string // a line sent after each reply to the final "."

	mu       sync.Mutex
	accepts  int
	reads    []string // each read, in the command phase
	lines    []string // each command line
	messages []string // each DATA content as sent, with the final ".\r\n"
	tlsEHLO  int      // EHLOs over TLS
}

func startRawServer(t *testing.T, configure func(*rawServer)) *rawServer {
	t.Helper()
	s := &rawServer{name: "raw.test", ext: []string{"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"}}
	if configure != nil {
		configure(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.accepts++
			s.mu.Unlock()
			wg.Go(func() { s.serve(c) })
		}
	})
	return s
}

func (s *rawServer) serve(c net.Conn) {
	defer func() { c.Close() }()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("220 " + s.name + " ESMTP\r\n"))
	var (
		pending  []byte
		data     bool // reading DATA content
		accepted int  // RCPTs accepted in this transaction
		overTLS  bool
	)
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n == 0 && err != nil {
			return
		}
		if !data {
			s.mu.Lock()
			s.reads = append(s.reads, string(buf[:n]))
			s.mu.Unlock()
		}
		pending = append(pending, buf[:n]...)
		var out strings.Builder
		for {
			if data {
				i := strings.Index(string(pending), "\r\n.\r\n")
				if strings.HasPrefix(string(pending), ".\r\n") {
					i = -2 // the empty message
				}
				if i == -1 {
					break
				}
				msg := string(pending[:i+5])
				pending = pending[i+5:]
				data = false
				s.mu.Lock()
				s.messages = append(s.messages, msg)
				s.mu.Unlock()
				if accepted == 0 {
					out.WriteString("554 5.5.1 No valid recipients\r\n")
				} else {
					out.WriteString("250 2.0.0 Ok: queued as R1\r\n" + s.extra)
				}
				accepted = 0
				continue
			}
			i := strings.Index(string(pending), "\r\n")
			if i < 0 {
				break
			}
			line := string(pending[:i])
			pending = pending[i+2:]
			s.mu.Lock()
			s.lines = append(s.lines, line)
			s.mu.Unlock()
			verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
			switch verb {
			case "EHLO":
				out.WriteString("250-" + s.name + "\r\n")
				ext := s.ext
				if s.tls != nil && !overTLS {
					ext = append(ext[:len(ext):len(ext)], "STARTTLS")
				}
				for _, e := range ext {
					out.WriteString("250-" + e + "\r\n")
				}
				out.WriteString("250 HELP\r\n")
				if overTLS {
					s.mu.Lock()
					s.tlsEHLO++
					s.mu.Unlock()
				}
			case "STARTTLS":
				c.Write([]byte("220 2.0.0 Ready to start TLS\r\n"))
				tc := tls.Server(c, s.tls)
				if tc.Handshake() != nil {
					return
				}
				c, overTLS, pending = tc, true, nil
			case "MAIL", "RSET", "NOOP":
				accepted = 0
				out.WriteString("250 2.0.0 Ok\r\n")
			case "RCPT":
				if strings.HasPrefix(strings.ToLower(line), "rcpt to:<bad") {
					out.WriteString("550-5.1.1 No such user here\r\n550 5.1.1 Check the address\r\n")
				} else {
					accepted++
					out.WriteString("250 2.1.5 Ok\r\n")
				}
			case "DATA":
				if accepted == 0 && !s.always354 {
					out.WriteString("554 5.5.1 No valid recipients\r\n")
					break
				}
				out.WriteString("354 End data with <CR><LF>.<CR><LF>\r\n")
				data = true
			case "QUIT":
				out.WriteString("221 2.0.0 Bye\r\n")
				c.Write([]byte(out.String()))
				return
			default:
				out.WriteString("502 5.5.2 Error: command not recognized\r\n")
			}
		}
		if out.Len() > 0 {
			if _, err := c.Write([]byte(out.String())); err != nil {
				return
			}
		}
	}
}

// snapshot returns what the server has seen so far.
func (s *rawServer) snapshot() (accepts int, reads, lines, messages []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepts, append([]string(nil), s.reads...), append([]string(nil), s.lines...), append([]string(nil), s.messages...)
}

// testTLS returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1 and a client configuration that trusts it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	c := testcert.New(t, "127.0.0.1")
	return &tls.Config{Certificates: []tls.Certificate{c.TLS}}, &tls.Config{RootCAs: c.Pool, ServerName: "127.0.0.1"}
}
