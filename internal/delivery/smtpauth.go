package delivery

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/emersion/go-sasl"
)

// authPlain logs in to a smart host with AUTH PLAIN (RFC 4954, RFC 4616).
// Every way it can fail is a retry 4.7.0: a password that is wrong,
// missing or not safe to send is for an administrator to fix, and the mail
// waits for that instead of bouncing.
func (a *SMTP) authPlain(c *client, host string) *Result {
	retry := func(text, remote string) *Result {
		return &Result{Class: Retry, Status: "4.7.0", Text: text, RemoteHost: host, RemoteText: remote}
	}
	if err := clearAuthRefused(host, c.tls, c.raw.RemoteAddr()); err != nil {
		return retry(err.Error(), "")
	}
	if !c.supportsAuth("PLAIN") {
		return retry(host+" does not offer AUTH PLAIN", "")
	}
	password, err := readPassword(a.AuthPasswordFile)
	if err != nil {
		return retry(err.Error(), "")
	}
	if err := c.auth(sasl.NewPlainClient("", a.AuthUsername, password)); err != nil {
		if !isReply(err) {
			return retry("AUTH PLAIN with "+host+": "+err.Error(), "")
		}
		return retry(fmt.Sprintf("%s refused the login as %q: check auth.username and auth.password_file of the send connector", host, a.AuthUsername),
			reply(host, err, "4.7.0").RemoteText)
	}
	return nil
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
