package client

import (
	"errors"
	"fmt"
	"strings"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/status"
)

// Recipient states in the outbox.
const (
	Pending = "pending" // to be submitted
	Held    = "held"    // its address type is not confirmed yet; decided at the next sync
	Sent    = "sent"    // the hub accepted it (250)
	Refused = "refused" // it cannot be reached; a local non-delivery report says why
)

// Recipient is one recipient of a message in the outbox.
type Recipient struct {
	Written string `json:"written"`          // as the user wrote it
	Field   string `json:"field"`            // "to", "cc" or "bcc"
	Name    string `json:"name,omitempty"`   // display name (address book entry or one-off)
	Type    string `json:"type"`             // address type, upper case
	Address string `json:"address"`          // address within its type
	Entry   string `json:"entry,omitempty"`  // the address book entry it resolved to
	State   string `json:"state"`            // Pending, Held, Sent or Refused
	Status  string `json:"status,omitempty"` // enhanced status code when refused
	Reason  string `json:"reason,omitempty"` // why it is held or refused
	Host    string `json:"host,omitempty"`   // the hub that refused it; "" when the client did
	Report  string `json:"report,omitempty"` // the inbox id of the local report naming it
}

// Resolve parses each recipient as written (any form of interfaces.md
// section 2, through internal/address) and resolves it against the
// offline address book. It returns every syntax error at once.
func Resolve(book *OAB, field string, written []string) ([]Recipient, error) {
	var out []Recipient
	var errs []error
	for _, w := range written {
		a, err := address.Parse(w, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("recipient %q: %w", w, err))
			continue
		}
		out = append(out, resolveOne(book, field, w, a))
	}
	return out, errors.Join(errs...)
}

// resolveOne resolves a parsed address: a directory object is addressed
// by its primary SMTP address, so the hub resolves it; anything else keeps
// its own type.
func resolveOne(book *OAB, field, written string, a address.Address) Recipient {
	r := Recipient{Written: strings.TrimSpace(written), Field: field, Name: a.Display, Type: strings.ToUpper(a.Type), Address: a.Value, State: Pending}
	if book == nil {
		return r
	}
	if e := book.Lookup(a); e != nil {
		r.Entry = e.Name
		if r.Name == "" {
			r.Name = e.Name
		}
		if smtp := e.primarySMTP(); smtp != "" {
			r.Type, r.Address = "SMTP", smtp
		}
	}
	return r
}

// decide sets the state of a recipient that is not yet sent from the
// address types of the user's site: directory objects and SMTP addresses
// always go to the hub, which decides; a one-off of another type goes
// when the list holds its type. Otherwise confirmed says whether the list
// has just been confirmed by the hub: then the recipient is refused, else
// it is held until it can be.
func (r *Recipient) decide(types *TypesCache, haveTypes, confirmed bool) {
	switch {
	case r.Entry != "" || r.Type == "SMTP" || haveTypes && types.Has(r.Type):
		r.State, r.Reason, r.Status = Pending, "", ""
	case confirmed:
		r.State, r.Status, r.Host = Refused, status.Unroutable, ""
		r.Reason = fmt.Sprintf("none of your e-mail accounts can send to %s addresses: the hub says site %s may send to %s (address types version %s)",
			r.Type, types.Site, strings.Join(types.Types, ", "), types.Version)
	default:
		r.State, r.Status = Held, ""
		r.Reason = fmt.Sprintf("address type %s is not in the cached list; it is checked with the hub at the next sync", r.Type)
	}
}

// display is how a report names the recipient: its name and address.
func (r *Recipient) display() string {
	addr := r.Written
	if r.Type != "SMTP" {
		addr = address.FormatOneOff(address.Address{Type: r.Type, Value: r.Address})
	} else if r.Address != "" {
		addr = "<" + r.Address + ">"
	}
	if r.Name != "" {
		return r.Name + " " + addr
	}
	return addr
}

// parsedSMTP is an SMTP address as internal/address holds it.
func parsedSMTP(s string) address.Address { return address.Address{Type: "SMTP", Value: s} }
