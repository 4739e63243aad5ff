package delivery

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testServer is a real SMTP server on loopback that counts the
// connections it accepts and the logins it sees, records each message
// with its envelope parameters, and refuses recipients whose local part
// starts with "bad" (550). With password set it offers AUTH PLAIN for
// user "relay"; with dsn set it offers DSN.
type testServer struct {
	addr string
	port string

	mu       sync.Mutex
	accepted int        // connections accepted
	conns    []net.Conn // the server side of each
	logins   int        // successful AUTHs
	got      []gotMessage
	password string
}

type gotMessage struct {
	from  string
	mail  smtp.MailOptions
	to    []string
	rcpts []smtp.RcptOptions
	body  string
}

func startTestServer(t *testing.T, password string, dsn bool) *testServer {
	t.Helper()
	ts := &testServer{password: password}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &testSession{ts: ts}, nil }))
	srv.Domain = "mx.test"
	srv.AllowInsecureAuth = true
	srv.EnableDSN = dsn
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	_, ts.port, _ = net.SplitHostPort(ts.addr)
	go srv.Serve(&countingListener{Listener: ln, ts: ts})
	t.Cleanup(func() { srv.Close() })
	return ts
}

// countingListener counts and keeps what the server accepts.
type countingListener struct {
	net.Listener
	ts *testServer
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.ts.mu.Lock()
		l.ts.accepted++
		l.ts.conns = append(l.ts.conns, c)
		l.ts.mu.Unlock()
	}
	return c, err
}

// dropAll closes every connection from the server's side, as a server
// that restarted or timed out an idle client would.
func (ts *testServer) dropAll() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, c := range ts.conns {
		c.Close()
	}
}

func (ts *testServer) counts() (accepted, logins, messages int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.accepted, ts.logins, len(ts.got)
}

func (ts *testServer) messages() []gotMessage {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]gotMessage(nil), ts.got...)
}

type testSession struct {
	ts   *testServer
	m    gotMessage
	open bool // MAIL accepted, no RSET or DATA since
}

func (s *testSession) Reset()        { s.m, s.open = gotMessage{}, false }
func (s *testSession) Logout() error { return nil }

func (s *testSession) AuthMechanisms() []string {
	if s.ts.password == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "relay" || pass != s.ts.password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication credentials invalid"}
		}
		s.ts.mu.Lock()
		s.ts.logins++
		s.ts.mu.Unlock()
		return nil
	}), nil
}

func (s *testSession) Mail(from string, o *smtp.MailOptions) error {
	if s.open {
		return &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "Nested MAIL command"}
	}
	s.open = true
	s.m.from = from
	if o != nil {
		s.m.mail = *o
	}
	return nil
}

func (s *testSession) Rcpt(to string, o *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "bad") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	}
	s.m.to = append(s.m.to, to)
	var ro smtp.RcptOptions
	if o != nil {
		ro = *o
	}
	s.m.rcpts = append(s.m.rcpts, ro)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(s.m.to) == 0 {
		return errors.New("DATA without recipients")
	}
	s.m.body = string(b)
	s.ts.mu.Lock()
	s.ts.got = append(s.ts.got, s.m)
	s.ts.mu.Unlock()
	return nil
}
