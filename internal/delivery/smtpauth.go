package delivery

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/waypost/waypost/internal/mailtext"
	"github.com/waypost/waypost/internal/status"
)

// authSmartHost logs in to a smart host with a user name and password
// (RFC 4954): SASL PLAIN (RFC 4616) when the server offers it, else LOGIN
// (draft-murchison-sasl-login), which is all that Microsoft 365's
// submission host and many appliances offer. Every way it can fail is a
// retry 4.7.0: a password that is wrong, missing or not safe to send is
// for an administrator to fix, and the mail waits for that instead of
// bouncing.
func (a *SMTP) authSmartHost(c *client, host string) *Result {
	retry := func(text, remote string) *Result {
		return &Result{Class: Retry, Status: status.SecurityTransient, Text: text, RemoteHost: host, RemoteText: remote}
	}
	if err := clearAuthRefused(host, c.tls, c.raw.RemoteAddr()); err != nil {
		return retry(err.Error(), "")
	}
	var mech string
	switch {
	case c.supportsAuth("PLAIN"):
		mech = "PLAIN"
	case c.supportsAuth("LOGIN"):
		mech = "LOGIN"
	case c.has("AUTH"):
		return retry(fmt.Sprintf("%s offers neither AUTH PLAIN nor AUTH LOGIN (it offers %q)", host, c.ext["AUTH"]), "")
	default:
		return retry(host+" does not offer AUTH (neither PLAIN nor LOGIN): check the smart host's port and auth settings", "")
	}
	password, err := readPassword(a.AuthPasswordFile)
	if err != nil {
		return retry(err.Error(), "")
	}
	var s sasl.Client = sasl.NewPlainClient("", a.AuthUsername, password)
	if mech == "LOGIN" {
		s = &loginClient{username: a.AuthUsername, password: password}
	}
	if err := c.auth(s); err != nil {
		if !isReply(err) {
			return retry(fmt.Sprintf("AUTH %s with %s: %v", mech, host, err), "")
		}
		return retry(fmt.Sprintf("%s refused the AUTH %s login as %q: check auth.username and auth.password_file of the send connector", host, mech, a.AuthUsername),
			reply(host, err, status.SecurityTransient).RemoteText)
	}
	return nil
}

// loginClient is the client of the LOGIN mechanism
// (draft-murchison-sasl-login-00 section 2): no initial response, the user
// name in answer to the first challenge and the password to the second,
// whatever the challenges' text ("Username:" and "Password:" as a rule,
// but servers word them as they like, and Postfix's and Cyrus' clients do
// not read them either). go-sasl's LOGIN client sends the user name as an
// initial response and insists on the text "Password:", which servers
// without RFC 4954 initial responses do not take.
type loginClient struct {
	username, password string
	step               int
}

func (l *loginClient) Start() (string, []byte, error) {
	l.step = 0
	return "LOGIN", nil, nil
}

func (l *loginClient) Next(challenge []byte) ([]byte, error) {
	l.step++
	switch l.step {
	case 1:
		return []byte(l.username), nil
	case 2:
		return []byte(l.password), nil
	}
	return nil, fmt.Errorf("a third LOGIN challenge %q, after the user name and the password", mailtext.PrintableASCII(string(challenge), 80))
}

// clearAuthRefused says why a password may not go to host: without TLS it
// is sent only to a loopback address (the peer of the connection), where
// it never crosses a network.
func clearAuthRefused(host string, tlsOn bool, peer net.Addr) error {
	if tlsOn {
		return nil
	}
	if tcp, ok := peer.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to send the password in clear to %s: enable tls", host)
}

// readPassword reads a password file; its trailing newline is not part of
// the password. The error names the file, never its content.
func readPassword(path string) (string, error) {
	if path == "" {
		return "", errors.New("the send connector has auth.username but no auth.password_file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the smart host password: %w", err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", fmt.Errorf("the smart host password file %s is empty", path)
	}
	return pw, nil
}
