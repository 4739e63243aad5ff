package smtpd

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/hubauth"
	"github.com/waypost/waypost/internal/mailtext"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/status"
)

// KindRelay is the kind of the hub-to-hub listener (server.relay). It is
// internal: the organization file cannot name it for a receive connector.
const KindRelay = "relay"

// ArrivalHeader carries a message's original arrival time between hubs. A
// sending hub writes it as the first line of the data; the relay listener
// of the receiving hub removes it and uses it as Envelope.Arrival.
const ArrivalHeader = "X-Waypost-Arrival"

// replyHubAuthRequired refuses MAIL on a relay listener before the proof,
// and replyHubNeedsTLS refuses AUTH and MAIL there before STARTTLS (RFC
// 3207 section 4).
var (
	replyHubAuthRequired = reply(status.ReplyAuthRequired, status.AuthRequired, "Hub authentication required")
	replyHubNeedsTLS     = reply(status.ReplyAuthRequired, status.AuthRequired, "Must issue a STARTTLS command first: hubs relay only over TLS")
)

// hubAuthPrefix marks Envelope.Auth of mail relayed by a proven hub.
const hubAuthPrefix = "hub:"

// NewRelay builds the hub-to-hub listener of server: a receive connector of
// kind KindRelay named "relay" with the default limits, on which a peer
// must start TLS (relaytls.go: the certificate of server.relay_tls, or a
// self-signed one in the data folder) and then prove secret for that TLS
// channel (package hubauth) before MAIL. Once it has, the peer may
// send to any recipient, and the envelope it gives (DSN parameters, the
// arrival time in ArrivalHeader) is kept.
func NewRelay(org *config.Org, server string, secret []byte, eng func() *routing.Engine, q Queue, log *slog.Logger) (*Listener, error) {
	if len(secret) == 0 {
		return nil, errors.New("smtpd: relay listener without a hub secret")
	}
	s := org.Server(server)
	if s == nil {
		return nil, errors.New("smtpd: server " + server + " is not in the organization")
	}
	rc := &config.ReceiveConnector{
		Name:           "relay",
		Listen:         s.Relay,
		Kind:           KindRelay,
		RemoteRanges:   []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
		MaxMessageSize: config.DefaultMaxMessageSize,
		MaxRecipients:  config.DefaultMaxRecipients,
		MaxLineLength:  config.DefaultMaxLineLength,
		CommandTimeout: config.DefaultCommandTimeout,
		DataTimeout:    config.DefaultDataTimeout,
		MaxErrors:      config.DefaultMaxErrors,
		MaxHopCount:    org.MaxHopCount,

		MaxHeaderSize:        config.DefaultMaxHeaderSize,
		MaxConnections:       config.DefaultMaxConnections,
		MaxConnectionsPerIP:  config.DefaultMaxConnectionsPerIP,
		MinDataRate:          config.DefaultMinDataRate,
		MaxAuthFailuresPerIP: config.DefaultMaxAuthFailuresPerIP,
		AuthFailureWindow:    config.DefaultAuthFailureWindow,
		AuthLockout:          config.DefaultAuthLockout,
	}
	if rc.MaxHopCount == 0 {
		rc.MaxHopCount = config.DefaultMaxHopCount
	}
	l, err := New(org, server, rc, eng, q, nil, log)
	if err != nil {
		return nil, err
	}
	if l.tls, err = relayTLS(s); err != nil {
		return nil, fmt.Errorf("smtpd: relay listener: %w", err)
	}
	l.secret = append([]byte(nil), secret...)
	return l, nil
}

// isRelay reports whether the listener is a hub-to-hub one.
func (l *Listener) isRelay() bool { return l.rc.Kind == KindRelay }

// addrLocked reports whether a client at a is refused, at connect and at
// AUTH, because its address is locked out after failed logins. The relay
// listener refuses no one for that, and takes a valid proof from a
// locked-out address: the hub's login limiter is shared by all its
// services (docs/operations.md, "Password guessing"), so an address may be
// locked by failures elsewhere (a web portal on a hub's machine passing on
// its users' mistyped passwords to the API, users behind the same NAT as a
// hub), and hub-to-hub relay must go on whatever the other services
// suffer; a proof (an HMAC of a fresh challenge under the hub secret,
// package hubauth) is not found by guessing, so nothing is gained by
// refusing it. A failed proof still counts against its address (and the
// server name given) like any failed login, and so locks the address out
// of the other services.
func (l *Listener) addrLocked(a netip.Addr) bool {
	return !l.isRelay() && l.logins.AddrLocked(a)
}

// hubAuth is the server side of hubauth.Mechanism on a relay listener,
// inside TLS: a fresh challenge that proves the secret for this TLS
// channel, then a response that only a holder of the secret can give for
// it on this channel.
func (s *session) hubAuth(mech string) (sasl.Server, error) {
	if mech != hubauth.Mechanism {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	binding, err := hubauth.Binding(s.g.tls())
	if err != nil {
		s.g.note("reason", err.Error())
		return nil, replyHubNeedsTLS
	}
	return saslServer{&hubServer{s: s, binding: binding}}, nil
}

type hubServer struct {
	s       *session
	binding []byte // the TLS channel's (RFC 9266 tls-exporter)
	nonce   string
}

func (h *hubServer) Next(resp []byte) ([]byte, bool, error) {
	s := h.s
	if h.nonce == "" {
		ch, nonce := hubauth.Challenge(s.l.secret, s.l.server.Name, h.binding)
		h.nonce = nonce
		return ch, false, nil
	}
	client, err := hubauth.Verify(s.l.secret, h.nonce, s.l.server.Name, h.binding, resp)
	att := s.l.logins.Check("relay", client, s.g.remote.Addr())
	org := s.l.org
	if e := s.l.eng(); e != nil {
		org = e.Org() // the organization in force: a hub added by a reload is known
	}
	peer := org.Server(client)
	switch {
	case err != nil:
		s.g.note("reason", err.Error())
		return nil, true, s.authFailed(client, att)
	case peer == nil:
		s.g.note("reason", "not a server of the organization")
		return nil, true, s.authFailed(client, att)
	}
	att.Result(true)
	s.mu.Lock()
	s.auth = hubAuthPrefix + peer.Name
	s.mu.Unlock()
	s.l.log.Debug("hub authenticated", "remote", s.g.remote.String(), "peer", peer.Name)
	return nil, true, nil
}

// ORCPTHeader carries, between hubs, an RFC 3461 ORCPT of a type the
// RCPT command cannot (go-smtp writes only rfc822 and utf-8): one line per
// recipient after ArrivalHeader, "<recipient as sent> <base64 of type;value>".
const ORCPTHeader = "X-Waypost-ORCPT"

// relayed is what the first lines of a relayed message carry.
type relayed struct {
	arrival time.Time
	shadow  string            // the ShadowHeader line's value, "" without one
	orcpt   map[string]string // lower-case recipient -> ORCPT
}

// takeRelayed reads the leading ArrivalHeader and ORCPTHeader lines of a
// relayed message and returns them with a reader of the message without
// them. A line it cannot read is left in the message.
func takeRelayed(r io.Reader) (relayed, io.Reader) {
	var out relayed
	br := bufio.NewReaderSize(r, 4096)
	for {
		name := ""
		for _, h := range []string{ArrivalHeader, ORCPTHeader, ShadowHeader} {
			if p, err := br.Peek(len(h) + 1); err == nil && strings.EqualFold(string(p), h+":") {
				name = h
			}
		}
		if name == "" {
			return out, br
		}
		full, err := br.ReadSlice('\n')
		if err != nil {
			// Too long or cut short: leave the rest of the data as it is.
			return out, io.MultiReader(bytes.NewReader(append([]byte(nil), full...)), br)
		}
		v := strings.TrimSpace(string(full[len(name)+1:]))
		switch name {
		case ArrivalHeader:
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				out.arrival = t
			}
		case ShadowHeader:
			out.shadow = v
		case ORCPTHeader:
			rcpt, enc, ok := strings.Cut(v, " ")
			if o, err := base64.StdEncoding.DecodeString(enc); ok && err == nil {
				if out.orcpt == nil {
					out.orcpt = map[string]string{}
				}
				out.orcpt[strings.ToLower(rcpt)] = mailtext.Printable(string(o), 500)
			}
		}
	}
}
