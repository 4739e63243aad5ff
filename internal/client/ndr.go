package client

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/report"
)

// localNDR writes the client's own non-delivery report for the refused
// recipients of it into the inbox and returns its inbox id. It is laid
// out like the report Outlook writes in cached mode (the seed, KB 955778):
// the subject, the send time, each recipient that could not be reached
// with its name and the time, and the reason ("None of your e-mail
// accounts could send to this recipient"), and it is a real RFC 3464
// report (internal/report) with the original headers attached, marked
// with an X-Waypost-Local-Report header. Recipients the hub refused at
// submission are in it too, with the hub's reply.
func (p *Profile) localNDR(it *Item, refused []Recipient, types *TypesCache) (string, error) {
	now := p.now()
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	r := report.Report{
		ReportingMTA: host,
		Postmaster:   "postmaster@" + p.domain(),
		To:           p.Settings.User,
		Arrival:      it.Created,
		Date:         now,
	}
	for _, rc := range refused {
		rr := report.Recipient{
			Written:     rc.display() + "  (" + now.Format("Monday, 2 January 2006 15:04 MST") + ")",
			Type:        rc.Type,
			Address:     rc.Address,
			Status:      rc.Status,
			RemoteHost:  rc.Host,
			RemoteText:  rc.Reason,
			LastAttempt: now,
		}
		if rc.Host == "" && types != nil { // refused by the client's own check
			rr.Reason = typeReason(rc.Type, types)
			rr.RemoteText = fmt.Sprintf("None of your e-mail accounts could send to this recipient: address type %s is not in the list of site %s (version %s, confirmed by the hub at %s)",
				rc.Type, types.Site, types.Version, types.Checked.Format(time.RFC3339))
		}
		r.Recipients = append(r.Recipients, rr)
	}
	msg, err := report.NDR(r, strings.NewReader(it.Message))
	if err != nil {
		return "", err
	}
	id := "local-" + newID(now)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s: %s\r\n", localHeader, it.ID)
	b.Write(msg)
	if err := p.addInbox(id, b.Bytes()); err != nil {
		return "", err
	}
	return id, nil
}

// typeReason is the plain-words reason for a recipient of a type the
// user's site may not send to.
func typeReason(typ string, types *TypesCache) string {
	return fmt.Sprintf("None of your e-mail accounts could send to this recipient. Your site (%s) may send to %s addresses, "+
		"but not to %s addresses; the hub confirmed this list when you sent the message. "+
		"Ask your administrator for a connector that takes %s addresses in your site.",
		types.Site, strings.Join(types.Types, ", "), typ, typ)
}

// domain is the user's SMTP domain: where one-off addresses are
// encapsulated (IMCEA) for submission and where the report's postmaster is.
func (p *Profile) domain() string {
	u := p.Settings.User
	if book, err := p.Book(); err == nil {
		if e := book.Lookup(parsedSMTP(u)); e != nil {
			if s := e.primarySMTP(); s != "" {
				u = s
			}
		}
	}
	return strings.ToLower(u[strings.LastIndexByte(u, '@')+1:])
}
