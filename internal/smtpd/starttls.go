package smtpd

import (
	"context"
	"crypto/tls"
	"io"
)

// STARTTLS (RFC 3207), done by the guard itself, so that every check holds
// inside TLS too.

// startTLS answers STARTTLS (RFC 3207) and does the handshake.
func (g *guard) startTLS() error {
	g.mu.Lock()
	active := g.tlsState != nil
	busy := g.sess != nil && g.sess.tlsForbidden()
	g.lastCmd = "STARTTLS"
	g.mu.Unlock()
	switch {
	case active:
		g.writeReply(replyTLSActive)
		return nil
	case busy:
		g.writeReply(replyTLSNotNow)
		return nil
	}
	// Anything sent after STARTTLS and before the handshake is dropped:
	// it must not be read as if it came through TLS (CVE-2011-0411).
	dropped := len(g.in)
	g.in = g.in[:0]
	if err := g.writeReply(replyReadyTLS); err != nil {
		return err
	}
	if dropped > 0 {
		g.l.log.Warn("discarded input sent after STARTTLS before the TLS handshake", "remote", g.remote.String(), "bytes", dropped)
	}
	tc := tls.Server(g.raw, g.l.tls)
	ctx, cancel := context.WithTimeout(context.Background(), g.l.commandTimeout())
	g.mu.Lock()
	g.inHandshake = true
	g.mu.Unlock()
	err := tc.HandshakeContext(ctx)
	cancel()
	g.mu.Lock()
	g.inHandshake = false
	g.mu.Unlock()
	if err != nil {
		g.l.log.Info("TLS handshake failed", "remote", g.remote.String(), "err", err)
		g.Close()
		return io.EOF
	}
	st := tc.ConnectionState()
	g.wmu.Lock()
	g.mu.Lock()
	g.rw = tc
	g.tlsState = &st
	g.greetedTLS = false
	g.helo, g.esmtp = "", false
	g.mu.Unlock()
	g.wmu.Unlock()
	return nil
}
