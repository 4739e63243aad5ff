package smtpd

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dmarc"
	"github.com/emersion/go-smtp"

	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/mailtext"
	"github.com/waypost/waypost/internal/senderauth"
	"github.com/waypost/waypost/internal/status"
)

// SetResolver sets the DNS resolver of the sender checks ([[server]]
// dns); nil, the default, asks the system's.
func (l *Listener) SetResolver(r *net.Resolver) { l.resolver = r }

// checksSender reports whether messages of this session get the SPF,
// DKIM and DMARC checks (sender_auth tag or enforce): not on the hub
// relay, and not for a client that logged in.
func (s *session) checksSender(authUser string) bool {
	mode := s.l.rc.SenderAuth
	return (mode == config.SenderAuthTag || mode == config.SenderAuthEnforce) && !s.l.isRelay() && authUser == ""
}

// checkSender reads the message into a spool (in memory up to
// spoolInMemory, then an unlinked temporary file beside the queue folder:
// the DKIM verdict needs the whole message before the
// Authentication-Results field, which goes first, is written), checks it
// (package senderauth) and returns the field and the message to queue
// behind it: the spooled copy without forged Authentication-Results
// fields. close removes the copy. A failure to read the client's data
// comes back as content that fails with it (the caller's bodyReader holds
// the reply); a failure to write the copy is a refusal (451 4.3.0, or
// 452 4.3.1 on a full file system). In enforce mode a DMARC reject
// failure is refused with 550 5.7.1 and a check that ran out of time
// with 451 4.7.1 (docs/operations.md "Internet edge").
// logAttrs are the results, for the accepted or refused log line.
func (s *session) checkSender(from, helo string, body io.Reader) (field string, content io.Reader, close func(), logAttrs []any, refusal *smtp.SMTPError) {
	dir := os.TempDir()
	if s.l.queueDir != "" {
		dir = filepath.Dir(s.l.queueDir)
	}
	sp := &spool{dir: dir}
	close = sp.Close
	rr := &readErrReader{r: body}
	if _, err := io.Copy(sp, rr); err != nil {
		if rr.err != nil {
			return "", errReader{rr.err}, close, nil, nil
		}
		return "", nil, close, nil, s.spoolFailed(err)
	}
	f, err := sp.Reader()
	if err != nil {
		return "", nil, close, nil, s.spoolFailed(err)
	}
	c := &senderauth.Checker{Resolver: s.l.resolver, AuthServID: s.l.fqdn}
	v := c.Check(context.Background(), senderauth.Input{IP: net.IP(s.g.remote.Addr().Unmap().AsSlice()), Helo: helo, MailFrom: from}, f)
	logAttrs = []any{"spf", string(v.SPF), "dmarc", string(v.DMARC), "header_from", v.From}
	if s.l.rc.SenderAuth == config.SenderAuthEnforce {
		switch {
		case v.DMARC == authres.ResultFail && v.Policy == dmarc.PolicyReject:
			s.g.note(logAttrs...)
			return "", nil, close, nil, reply(status.ReplyMailboxUnavailable, status.NotAuthorized, "Refused by the DMARC policy (p=reject) of "+mailtext.Printable(v.From, 255)+": "+mailtext.Printable(v.Reason, 300))
		case v.DMARC == authres.ResultTempError && v.Policy != dmarc.PolicyNone && v.Policy != dmarc.PolicyQuarantine:
			s.g.note(logAttrs...)
			return "", nil, close, nil, reply(status.ReplyLocalError, status.NotAuthorizedTransient, "DMARC of "+mailtext.Printable(v.From, 255)+" could not be checked in time, try again later: "+mailtext.Printable(v.Reason, 300))
		}
	}
	if f, err = sp.Reader(); err != nil {
		return "", nil, close, nil, s.spoolFailed(err)
	}
	return v.Field(s.l.fqdn), senderauth.StripForged(f, s.l.fqdn), close, logAttrs, nil
}

// spoolFailed is the reply when the copy for the checks cannot be written.
func (s *session) spoolFailed(err error) *smtp.SMTPError {
	s.g.note("err", "copy for the sender checks: "+err.Error())
	if isNoSpace(err) {
		return s.l.queueFull(err)
	}
	return replyQueueFailed
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// readErrReader keeps the error of reading, to tell it from a write
// error of io.Copy.
type readErrReader struct {
	r   io.Reader
	err error
}

func (r *readErrReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
