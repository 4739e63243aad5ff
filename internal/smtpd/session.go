package smtpd

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/hubauth"
	"github.com/waypost/waypost/internal/loginlimit"
	"github.com/waypost/waypost/internal/mailtext"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/status"
)

// session is one SMTP session (go-smtp's Session and AuthSession). It never
// holds mu while calling the guard: the guard calls in under its own lock.
type session struct {
	l        *Listener
	g        *guard
	loopback bool // may AUTH without TLS
	relay    bool // in the connector's relay_ranges: may relay without AUTH

	mu           sync.Mutex
	auth         string // authenticated user, "" before AUTH
	authFailures int
	tx           *txn // the mail transaction, nil outside one
}

// maxAuthFailures failed AUTH attempts end a session (after the 535 reply,
// 421 4.7.0), whatever max_errors says.
const maxAuthFailures = 3

// txn is a mail transaction, from MAIL to the end of DATA.
type txn struct {
	eng   *routing.Engine // current at MAIL: one routing for the whole transaction
	from  string
	size  int64 // SIZE parameter, 0 if none
	utf8  bool
	envID string
	ret   string
	rcpts []Recipient
	seen  map[string]bool
	count int // RCPTs accepted, a repeated one each time (max_recipients)
}

var (
	_ smtp.Session     = (*session)(nil)
	_ smtp.AuthSession = (*session)(nil)
)

// busy reports whether a mail transaction is open (Shutdown waits for it).
func (s *session) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tx != nil
}

// authenticated reports whether the client has authenticated (a hub peer
// included).
func (s *session) authenticated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth != ""
}

// tlsForbidden reports whether STARTTLS must be refused: inside a mail
// transaction, or after AUTH (go-smtp would not let the client AUTH again).
func (s *session) tlsForbidden() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tx != nil || s.auth != ""
}

func (s *session) reset() {
	s.mu.Lock()
	s.tx = nil
	s.mu.Unlock()
	if s.l.isClosing() {
		s.g.closeIfIdle()
	}
}

func (s *session) mail(from string, opts *smtp.MailOptions) error {
	if s.g.needEHLO() {
		return replyEHLOFirst
	}
	s.mu.Lock()
	authUser, open := s.auth, s.tx != nil
	s.mu.Unlock()
	if open {
		return reply(status.ReplyBadSequence, status.InvalidCommand, "Nested MAIL command")
	}
	if s.l.rc.Kind == config.KindSubmission && authUser == "" {
		return replyAuthRequired
	}
	if s.l.isRelay() && s.g.tls() == nil {
		return replyHubNeedsTLS
	}
	if s.l.isRelay() && !strings.HasPrefix(authUser, hubAuthPrefix) {
		return replyHubAuthRequired
	}
	raw, ok := s.g.rawPath()
	if !ok {
		raw = from
	}
	if raw != "" {
		_, addr, err := address.ParseSMTP(raw)
		if err != nil {
			return reply(status.ReplyNameNotAllowed, status.BadSenderSyntax, "Bad sender address syntax: "+mailtext.Printable(err.Error(), 200))
		}
		if !isASCII(addr) && !opts.UTF8 {
			return replyNeedUTF8
		}
		raw = addr
	}
	if max := s.l.rc.MaxMessageSize; max > 0 && opts.Size > max {
		return replyTooBig(max) // RFC 1870 section 6.2
	}
	if r := s.l.spaceRefusal(opts.Size); r != nil {
		return r
	}
	tx := &txn{eng: s.l.eng(), from: raw, size: opts.Size, utf8: opts.UTF8, envID: opts.EnvelopeID, ret: string(opts.Return), seen: map[string]bool{}}
	if tx.eng == nil {
		return replyRoutingConfig
	}
	s.mu.Lock()
	s.tx = tx
	s.mu.Unlock()
	return nil
}

func (s *session) rcpt(to string, opts *smtp.RcptOptions) error {
	orcpt := s.g.takeORCPT()
	raw, ok := s.g.rawPath()
	s.mu.Lock()
	tx, authUser := s.tx, s.auth
	s.mu.Unlock()
	if tx == nil {
		return replyMailFirst
	}
	if !ok || raw == "" {
		raw = to
	}
	if r, ok := s.shadowQuery(tx, raw); ok {
		return r
	}
	if opts.OriginalRecipientType != "" {
		orcpt = strings.ToLower(string(opts.OriginalRecipientType)) + ";" + opts.OriginalRecipient
	}
	// RCPT TO takes SMTP addresses only: a one-off or typed address is not
	// valid here (it reaches us as IMCEA or RFC 3192 instead).
	_, addr, err := address.ParseSMTP(raw)
	if err != nil {
		s.g.note("rcpt", mailtext.Printable(raw, 300))
		return reply(status.ReplyParamSyntax, status.BadMailboxSyntax, "Bad recipient address syntax: "+mailtext.Printable(err.Error(), 200))
	}
	if !isASCII(addr) && !tx.utf8 {
		return replyNeedUTF8
	}
	if max := s.l.rc.MaxRecipients; max > 0 && tx.count >= max {
		// Every accepted RCPT counts, a repeated one too: a client cannot
		// name one recipient a million times (RFC 5321 section 4.5.3.1.8).
		return replyTooManyRecipients(max)
	}
	key := strings.ToLower(addr)
	if tx.seen[key] {
		s.mu.Lock()
		if s.tx == tx {
			tx.count++
		}
		s.mu.Unlock()
		return replyDuplicateRecipient
	}
	org := tx.eng.Org()
	domain := strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
	if authUser == "" && !s.relay && !mayReceiveFor(org, domain) {
		s.g.note("rcpt", addr)
		return replyRelayDenied
	}
	d := tx.eng.Route(s.l.server.Name, addr, tx.size, false)
	if d.DirectoryDown() {
		s.g.note("rcpt", addr, "status", d.Status, "reason", d.Reason)
		return replyDirectoryDown
	}
	if r := rcptRefusal(d, addr, authUser == ""); r != nil {
		s.g.note("rcpt", addr, "outcome", string(d.Outcome), "status", d.Status, "reason", d.Reason)
		return r
	}
	var notify []string
	for _, n := range opts.Notify {
		// Success notices on demand of anyone on port 25 would make the
		// hub a backscatter source: only authenticated users and hubs get
		// them (docs/architecture.md, internal/report).
		if n == smtp.DSNNotifySuccess && authUser == "" && s.l.rc.Kind == config.KindSMTP {
			continue
		}
		notify = append(notify, string(n))
	}
	s.mu.Lock()
	if s.tx == tx {
		tx.rcpts = append(tx.rcpts, Recipient{Written: addr, Decision: d, ORCPT: orcpt, Notify: strings.Join(notify, ",")})
		tx.seen[key] = true
		tx.count++
	}
	s.mu.Unlock()
	return nil
}

// mayReceiveFor reports whether an unauthenticated client may send to
// domain: any accepted domain, of every type (authoritative, internal or
// external relay), as Exchange's anonymous receive connectors accept mail
// for every accepted domain. Anything else is relaying.
func mayReceiveFor(org *config.Org, domain string) bool {
	return org.AcceptedDomain(domain) != nil
}

// rcptRefusal is the reply refusing a recipient that routing refuses now,
// or nil. A non-SMTP recipient with no connector (NDR 5.4.4) is accepted:
// its report is written after the message is queued.
func rcptRefusal(d routing.Decision, addr string, anonymous bool) *smtp.SMTPError {
	if d.Outcome != routing.OutcomeNDR {
		return nil
	}
	switch {
	case d.Status == status.Unroutable && d.Type != "SMTP":
		return nil
	case d.Status == status.Misconfigured:
		return replyRoutingConfig
	case anonymous && d.Status == status.BadMailbox && d.Type == "SMTP" && strings.ContainsAny(addr[:strings.LastIndexByte(addr, '@')], "%!@"):
		// Percent hack, bang path or a quoted "a@b": a relay attempt through
		// a local domain, refused as one.
		return replyRelayDenied
	}
	code := status.ReplyMailboxUnavailable
	switch d.Status {
	case status.BadMailboxSyntax:
		code = status.ReplyParamSyntax
	case status.MessageTooBig:
		code = status.ReplyExceededStorage
	}
	ec, ok := parseStatus(d.Status)
	if !ok {
		ec = smtp.EnhancedCode(status.Parts(status.BadAddress))
	}
	why := d.Reason
	if why == "" {
		why = "recipient refused"
	}
	return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: "<" + mailtext.Printable(addr, 300) + ">: " + mailtext.Printable(why, 300)}
}

func parseStatus(s string) (smtp.EnhancedCode, bool) {
	var ec smtp.EnhancedCode
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return ec, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 {
			return ec, false
		}
		ec[i] = n
	}
	return ec, ec[0] == 4 || ec[0] == 5
}

func (s *session) data(r io.Reader) error {
	s.mu.Lock()
	tx, authUser := s.tx, s.auth
	s.mu.Unlock()
	if tx == nil || len(tx.rcpts) == 0 {
		return reply(status.ReplyBadSequence, status.InvalidCommand, "No valid recipients")
	}
	start := time.Now()
	scan := s.g.dataScan()
	rid := newReceiveID()
	helo, esmtp := s.g.greeting()
	st := s.g.tls()
	hdr := received(helo, s.g.remote.Addr(), s.l.fqdn, protocol(esmtp, tx.utf8, st != nil, authUser != ""), rid, tx.rcpts, start)
	br := newBodyReader(r, scan, s.l.rc)
	var body io.Reader = br
	arrival := start
	rcpts := tx.rcpts
	shadowOf := ""
	if s.l.isRelay() {
		// A hub relayed it: the first lines may carry the original
		// arrival and ORCPTs that RCPT could not.
		var rl relayed
		rl, body = takeRelayed(br)
		if !rl.arrival.IsZero() {
			arrival = rl.arrival
		}
		if rl.shadow != "" {
			shadowOf = shadowOrigin(authUser, rl.shadow)
		}
		if len(rl.orcpt) > 0 {
			rcpts = append([]Recipient(nil), tx.rcpts...)
			for i := range rcpts {
				if o, ok := rl.orcpt[strings.ToLower(rcpts[i].Written)]; ok && rcpts[i].ORCPT == "" {
					rcpts[i].ORCPT = o
				}
			}
		}
	}
	env := Envelope{
		From:       tx.from,
		Recipients: rcpts,
		EnvID:      tx.envID,
		Ret:        tx.ret,
		Arrival:    arrival,
		Auth:       authUser,
		RemoteAddr: s.g.remote.String(),
		Helo:       helo,
		Receiver:   s.l.rc.Name,
		ShadowOf:   shadowOf,
	}
	var authField string // Authentication-Results, before Received (RFC 8601 section 5)
	var authLog []any
	if s.checksSender(authUser) {
		field, content, done, attrs, refusal := s.checkSender(tx.from, helo, body)
		defer done()
		if refusal != nil {
			s.g.note("from", tx.from, "recipients", len(tx.rcpts), "receive_id", rid)
			return refusal
		}
		authField, body, authLog = field, content, attrs
	}
	id, err := s.l.q.Add(env, io.MultiReader(strings.NewReader(authField), strings.NewReader(hdr), body))
	switch {
	case br.refusal != nil:
		if err == nil {
			s.l.log.Error("the queue kept a message the receiver refused", "id", id, "receive_id", rid)
		}
		s.g.note("from", tx.from, "recipients", len(tx.rcpts), "receive_id", rid)
		return br.refusal
	case br.readErr != nil:
		s.g.setCloseAfterWrite()
		if s.g.violated() {
			return replySync
		}
		s.g.note("err", br.readErr.Error(), "receive_id", rid)
		var ne net.Error
		if errors.As(br.readErr, &ne) && ne.Timeout() {
			if s.g.tooSlow() {
				return replyDataTooSlow
			}
			return replyDataTimeout
		}
		return replyDataBroken
	case err != nil && isNoSpace(err):
		s.g.note("from", tx.from, "recipients", len(tx.rcpts), "receive_id", rid, "err", "file system full")
		return s.l.queueFull(err)
	case err != nil:
		s.g.note("from", tx.from, "recipients", len(tx.rcpts), "receive_id", rid, "err", err.Error())
		return replyQueueFailed
	case !br.eof:
		s.g.note("from", tx.from, "receive_id", rid, "id", id, "err", "the queue returned before reading the whole message")
		return replyQueueFailed
	}
	if r := s.shadowCopy(id, env, rid); r != nil {
		return r
	}
	written := make([]string, len(tx.rcpts))
	for i, rc := range tx.rcpts {
		written[i] = rc.Written
	}
	s.l.evAccept(br.n)
	if scan != nil && scan.fixed > 0 {
		s.l.log.Info("bare LF line ends made CRLF", "id", id, "receive_id", rid, "remote", s.g.remote.String(), "lines", scan.fixed)
	}
	s.l.log.Info("accepted", "id", id, "receive_id", rid, "from", tx.from, "to", written,
		"size", br.n+int64(len(hdr)), "remote", s.g.remote.String(), "helo", helo, "auth", authUser, "tls", st != nil,
		"duration", time.Since(start).Round(time.Millisecond), slog.Group("sender_auth", authLog...))
	return &smtp.SMTPError{Code: status.ReplyOK, EnhancedCode: smtp.EnhancedCode(status.Parts(status.OK)), Message: "Ok: queued as " + mailtext.Printable(id, 100)}
}

func (s *session) AuthMechanisms() []string {
	if s.l.isRelay() {
		if s.g.tls() == nil {
			return nil // offered inside TLS only (relay.go)
		}
		return []string{hubauth.Mechanism}
	}
	if !s.authOffered() || s.g.tls() == nil && !s.loopback {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *session) authOffered() bool {
	return s.l.auth != nil && s.l.rc.Kind == config.KindSubmission
}

func (s *session) startAuth(mech string) (sasl.Server, error) {
	relay := s.l.isRelay()
	switch {
	case s.l.addrLocked(s.g.remote.Addr()):
		// Locked out by failures in other sessions since this one began.
		return nil, replyAuthLockout
	case relay && s.g.tls() == nil:
		return nil, replyHubNeedsTLS
	case relay && s.g.needEHLO():
		return nil, replyEHLOFirst
	case relay && s.busy():
		return nil, replyAuthInTransaction
	case relay:
		return s.hubAuth(mech)
	case !s.authOffered():
		return nil, replyAuthUnavailable
	case s.g.needEHLO():
		return nil, replyEHLOFirst
	case s.g.tls() == nil && !s.loopback:
		return nil, replyAuthNeedsTLS
	case s.busy():
		return nil, replyAuthInTransaction
	}
	switch mech {
	case sasl.Plain:
		return saslServer{sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				s.g.note("reason", "authorization identity differs from the user")
				return s.authFailed(user, s.l.logins.Check(loginService, user, s.g.remote.Addr()))
			}
			return s.authenticate(user, pass)
		})}, nil
	case sasl.Login:
		return saslServer{&loginServer{check: s.authenticate}}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) authenticate(user, pass string) error {
	att := s.l.logins.Check(loginService, user, s.g.remote.Addr())
	switch {
	case att.Refused && att.Locked == loginlimit.KindAddress:
		att.Result(false)
		s.g.note("user", mailtext.Printable(user, 100), "reason", "address locked out after failed AUTH")
		return replyAuthLockout
	case att.Refused:
		// The account is locked and this address never logged in to it:
		// no guess is checked (package loginlimit).
		s.authFailed(user, att)
		s.g.note("reason", "account locked after failed AUTH from many addresses")
		return replyAccountLocked
	case att.Delay > 0:
		time.Sleep(att.Delay)
	}
	mailbox, ok := "", false
	if c, can := s.l.auth.(Checker); can {
		m, err := c.Check(user, pass)
		if errors.Is(err, directory.ErrUnavailable) {
			s.g.note("user", mailtext.Printable(user, 100), "err", mailtext.Printable(err.Error(), 300))
			return replyAuthTempFail
		}
		mailbox, ok = m, err == nil
	} else {
		mailbox, ok = s.l.auth.Authenticate(user, pass)
	}
	if !ok {
		return s.authFailed(user, att)
	}
	att.Result(true)
	if mailbox == "" {
		mailbox = user
	}
	s.mu.Lock()
	s.auth = mailbox
	s.mu.Unlock()
	s.l.log.Debug("authenticated", "remote", s.g.remote.String(), "user", mailtext.Printable(user, 100), "mailbox", mailbox)
	return nil
}

// loginService names SMTP AUTH to the login limiter.
const loginService = "smtp"

// authFailed counts a failed AUTH, in the session and in the login
// limiter (att, for the client's address and the account), and returns its
// reply. The third in a session, or one that locks the address out,
// closes the session after the reply.
func (s *session) authFailed(user string, att *loginlimit.Attempt) error {
	s.mu.Lock()
	s.authFailures++
	last := s.authFailures >= maxAuthFailures
	s.mu.Unlock()
	s.g.note("user", mailtext.Printable(user, 100))
	s.l.evAuthFailure()
	switch {
	case att.Result(false) == loginlimit.KindAddress:
		s.g.lastError(replyAuthLockout, "locked out after failed AUTH")
	case last:
		s.g.lastError(replyAuthTooMany, "too many failed AUTH in the session")
	}
	return replyAuthFailed
}

// saslServer turns mechanism errors that are not replies (a malformed
// response) into 501 5.5.2 instead of go-smtp's 454.
type saslServer struct{ sasl.Server }

func (w saslServer) Next(resp []byte) ([]byte, bool, error) {
	ch, done, err := w.Server.Next(resp)
	if err != nil {
		var r *smtp.SMTPError
		if !errors.As(err, &r) {
			err = replyAuthMalformed
		}
	}
	return ch, done, err
}

// loginServer is the server side of the LOGIN mechanism
// (draft-murchison-sasl-login), which go-sasl no longer has.
type loginServer struct {
	step  int
	user  string
	check func(user, pass string) error
}

func (a *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch a.step {
	case 0:
		if resp == nil {
			a.step = 1
			return []byte("Username:"), false, nil
		}
		a.user, a.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 1:
		a.user, a.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 2:
		a.step = 3
		return nil, true, a.check(a.user, string(resp))
	}
	return nil, false, fmt.Errorf("sasl LOGIN: unexpected response")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
