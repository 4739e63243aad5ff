package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"time"

	"github.com/waypost/waypost/internal/address"
)

// Result says what a send or sync did.
type Result struct {
	Online     bool     `json:"online"`               // the hub's API answered
	ID         string   `json:"id,omitempty"`         // send: the message's outbox id
	Sent       int      `json:"sent"`                 // recipients the hub accepted now
	Refused    int      `json:"refused"`              // recipients refused now (in a local report)
	Held       int      `json:"held"`                 // recipients whose address type waits for a sync
	Pending    int      `json:"pending"`              // recipients waiting to be submitted
	Reports    []string `json:"reports"`              // inbox ids of local non-delivery reports written now
	Downloaded []string `json:"downloaded,omitempty"` // sync: inbox ids of messages downloaded
	Outbox     int      `json:"outbox"`               // messages left in the outbox
	Warnings   []string `json:"warnings,omitempty"`   // what could not be done now, and why
}

// run is the state of one command on an open profile.
type run struct {
	p         *Profile
	ctx       context.Context
	res       *Result
	types     TypesCache
	haveTypes bool
	confirmed bool  // the hub confirmed types during this command
	apiErr    error // why the hub could not confirm them
	smtpErr   error // why submission failed (offline or refused login)
}

func (p *Profile) newRun(ctx context.Context) (*run, error) {
	r := &run{p: p, ctx: ctx, res: &Result{Reports: []string{}}}
	var err error
	r.types, r.haveTypes, err = p.Types()
	return r, err
}

// confirmTypes revalidates the cached address types with the hub once
// per command (a conditional request with If-None-Match): true when the
// hub answered, and r.types is then its current list.
func (r *run) confirmTypes() bool {
	if r.confirmed {
		return true
	}
	if r.apiErr != nil {
		return false
	}
	c, err := r.p.refreshTypes(r.ctx)
	if err != nil {
		r.apiErr = err
		r.warn("address types not confirmed: %v", err)
		return false
	}
	r.types, r.haveTypes, r.confirmed = c, true, true
	r.res.Online = true
	return true
}

func (r *run) warn(format string, args ...any) {
	r.res.Warnings = append(r.res.Warnings, fmt.Sprintf(format, args...))
}

// WaitForTypes waits up to wait for the hub to announce a list of address
// types other than the one cached in the profile in dir (a long poll,
// ?wait= with If-None-Match) and reports whether one came. It holds the
// profile only to read it, so other commands run meanwhile, and it saves
// nothing: the sync that follows fetches the new list.
func WaitForTypes(ctx context.Context, dir string, wait, timeout time.Duration) (changed bool, err error) {
	p, err := Open(dir)
	if err != nil {
		return false, err
	}
	p.Timeout = timeout
	c, have, err := p.Types()
	a := p.api()
	p.Close()
	if err != nil || !have || wait <= 0 {
		return false, err
	}
	a.http = &http.Client{Timeout: wait + p.timeout()}
	at, _, notModified, err := a.addressTypesWait(ctx, c.ETag, wait)
	if err != nil {
		return false, err
	}
	return !notModified && at.Version != c.Version, nil
}

// refreshTypes asks the hub for the address types of the user's site,
// conditionally when a version is cached, and saves the answer.
func (p *Profile) refreshTypes(ctx context.Context) (TypesCache, error) {
	c, have, err := p.Types()
	if err != nil {
		have = false
	}
	etag := ""
	if have {
		etag = c.ETag
	}
	at, tag, notModified, err := p.api().addressTypes(ctx, etag)
	if err != nil {
		return c, err
	}
	now := p.now()
	if notModified {
		c.Checked = now
	} else {
		if !have || c.Version != at.Version {
			c.Fetched = now
		}
		c.AddressTypes, c.ETag, c.Checked = at, tag, now
	}
	if c.Types == nil {
		c.Types = []string{}
	}
	return c, p.saveTypes(c)
}

// refreshBook downloads the changes to the offline address book since the
// cached version (all of it the first time, or when the hub no longer
// knows that version) and saves it.
func (p *Profile) refreshBook(ctx context.Context) (OAB, error) {
	book, err := p.Book()
	if err != nil {
		book = OAB{}
	}
	a := p.api()
	u, err := a.oab(ctx, book.Version)
	var ae *APIError
	if book.Version != "" && errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusGone || ae.Status == http.StatusNotFound) {
		book = OAB{}
		u, err = a.oab(ctx, "")
	}
	if err != nil {
		return book, err
	}
	if book.Version == "" {
		u.Full = true
	}
	book.apply(u, p.now())
	return book, p.saveBook(book)
}

// process moves an outbox item on as far as it can go now: held
// recipients are decided when the hub confirms the address types, refused
// ones get one local report, pending ones are submitted, and a finished
// item moves to the sent folder. The item is saved after every step.
func (r *run) process(it *Item, book *OAB) error {
	p := r.p
	if it.Count(Held) > 0 && r.confirmTypes() {
		for i := range it.Recipients {
			rc := &it.Recipients[i]
			if rc.State != Held {
				continue
			}
			if a, err := address.Parse(rc.Written, nil); err == nil {
				*rc = resolveOne(book, rc.Field, rc.Written, a)
			}
			rc.decide(&r.types, true, true)
		}
		if err := p.saveItem(it); err != nil {
			return err
		}
	}
	if it.Count(Pending) > 0 && r.smtpErr == nil {
		before := it.Count(Sent)
		err := p.submit(it)
		if saveErr := p.saveItem(it); saveErr != nil {
			return saveErr
		}
		if err != nil {
			r.smtpErr = err
			r.warn("submission: %v", err)
		}
		r.res.Sent += it.Count(Sent) - before
	}
	var refused []Recipient
	for _, rc := range it.Recipients {
		if rc.State == Refused && rc.Report == "" {
			refused = append(refused, rc)
		}
	}
	if len(refused) > 0 {
		var types *TypesCache
		if r.confirmed {
			types = &r.types
		}
		id, err := p.localNDR(it, refused, types)
		if err != nil {
			return err
		}
		for i := range it.Recipients {
			if it.Recipients[i].State == Refused && it.Recipients[i].Report == "" {
				it.Recipients[i].Report = id
			}
		}
		r.res.Reports = append(r.res.Reports, id)
		r.res.Refused += len(refused)
		if err := p.saveItem(it); err != nil {
			return err
		}
	}
	r.res.Held += it.Count(Held)
	r.res.Pending += it.Count(Pending)
	if it.Done() {
		return p.finishItem(it)
	}
	return nil
}

// Send writes a message from d, resolves its recipients against the
// offline address book, puts it in the outbox, and moves it on as far as
// it can go now (see process). Recipients with bad syntax are an error and
// nothing is queued.
func (p *Profile) Send(ctx context.Context, d Draft) (Result, error) {
	book, err := p.Book()
	if err != nil {
		return Result{}, err
	}
	var rcpts []Recipient
	var errs []error
	for _, f := range []struct {
		field string
		list  []string
	}{{"to", d.To}, {"cc", d.Cc}, {"bcc", d.Bcc}} {
		rs, err := Resolve(&book, f.field, f.list)
		rcpts = append(rcpts, rs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}
	if len(rcpts) == 0 {
		return Result{}, errors.New("no recipients: give --to, --cc or --bcc")
	}
	r, err := p.newRun(ctx)
	if err != nil {
		return Result{}, err
	}
	for i := range rcpts {
		rcpts[i].decide(&r.types, r.haveTypes, false)
	}
	now := p.now()
	from := mail.Address{Address: p.Settings.User}
	if e := book.Lookup(parsedSMTP(p.Settings.User)); e != nil {
		from.Name = e.Name
	}
	msg, mid := compose(from, rcpts, d, p.domain(), now)
	it := &Item{ID: newID(now), Created: now, From: p.Settings.User, Subject: d.Subject, MessageID: mid,
		Recipients: rcpts, Message: string(msg)}
	if err := p.saveItem(it); err != nil {
		return Result{}, err
	}
	r.res.ID = it.ID
	if err := r.process(it, &book); err != nil {
		return *r.res, err
	}
	if r.apiErr == nil && r.smtpErr == nil && !r.confirmed {
		r.res.Online = true // submission reached the hub; the API was not needed
	}
	return r.finish()
}

// Sync refreshes the address types and the address book, moves every
// outbox message on, and downloads new messages of the user's mailbox
// (the hub's non-delivery reports among them). Offline, it does nothing
// and says so in the result.
func (p *Profile) Sync(ctx context.Context) (Result, error) {
	r, err := p.newRun(ctx)
	if err != nil {
		return Result{}, err
	}
	if !r.confirmTypes() {
		var ae *APIError
		if errors.As(r.apiErr, &ae) {
			return *r.res, r.apiErr
		}
		return r.finish()
	}
	book, err := p.refreshBook(ctx)
	if err != nil {
		r.warn("address book not refreshed: %v", err)
		if book, err = p.Book(); err != nil {
			return *r.res, err
		}
	}
	items, err := p.Outbox()
	if err != nil {
		return *r.res, err
	}
	for _, it := range items {
		if err := r.process(it, &book); err != nil {
			return *r.res, err
		}
	}
	if err := r.download(); err != nil {
		r.warn("mailbox not downloaded: %v", err)
	}
	st, err := p.State()
	if err != nil {
		return *r.res, err
	}
	st.LastSync = p.now()
	if err := p.saveState(st); err != nil {
		return *r.res, err
	}
	return r.finish()
}

// download fetches the messages that arrived in the user's mailbox since
// the last sync state into the inbox; the state advances only when all
// of them are stored.
func (r *run) download() error {
	p := r.p
	st, err := p.State()
	if err != nil {
		return err
	}
	a := p.api()
	l, err := a.messages(r.ctx, st.MailboxState)
	var ae *APIError
	if st.MailboxState != "" && errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusGone) {
		l, err = a.messages(r.ctx, "")
	}
	if err != nil {
		return err
	}
	for _, m := range l.Messages {
		if p.hasInbox(m.ID) {
			continue
		}
		raw, err := a.message(r.ctx, m.ID)
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			continue // removed since it was listed
		}
		if err != nil {
			return err
		}
		if err := p.addInbox(m.ID, raw); err != nil {
			return err
		}
		r.res.Downloaded = append(r.res.Downloaded, inboxName(m.ID))
	}
	st.MailboxState = l.State
	st.LastOnline = p.now()
	return p.saveState(st)
}

// finish counts the outbox and records when the hub last answered. A
// refused password is an error: it will not mend by itself.
func (r *run) finish() (res Result, err error) {
	defer func() {
		var ae *APIError
		if err == nil && errors.As(r.apiErr, &ae) && ae.Status == http.StatusUnauthorized {
			err = r.apiErr
		} else if err == nil && errors.Is(r.smtpErr, ErrAuth) {
			err = r.smtpErr
		}
	}()
	items, err := r.p.Outbox()
	if err != nil {
		return *r.res, err
	}
	r.res.Outbox = len(items)
	if r.res.Online {
		st, err := r.p.State()
		if err == nil {
			st.LastOnline = r.p.now()
			err = r.p.saveState(st)
		}
		if err != nil {
			return *r.res, err
		}
	}
	return *r.res, nil
}

// Login makes the profile in dir for settings and password: it checks
// the password with the hub by downloading the address types and the
// offline address book, and only then writes the profile. timeout bounds
// each request (0: the default).
func Login(ctx context.Context, dir string, s Settings, password string, timeout time.Duration) (*Profile, error) {
	p, err := Create(dir, s, password)
	if err != nil {
		return nil, err
	}
	p.Timeout = timeout
	a := p.api()
	at, tag, _, err := a.addressTypes(ctx, "")
	if err == nil {
		err = checkHome(ctx, a)
	}
	if err == nil {
		var u OABUpdate
		if u, err = a.oab(ctx, ""); err == nil {
			now := p.now()
			book := OAB{}
			u.Full = true
			book.apply(u, now)
			if at.Types == nil {
				at.Types = []string{}
			}
			tc := TypesCache{AddressTypes: at, ETag: tag, Fetched: now, Checked: now}
			err = errors.Join(p.saveTypes(tc), p.saveBook(book), p.Save())
		}
	}
	if err != nil {
		p.Close()
		if errors.Is(err, ErrOffline) {
			return nil, fmt.Errorf("login needs the hub: %w", err)
		}
		return nil, err
	}
	return p, nil
}

// checkHome makes sure the API is the user's home server, whose mailbox
// sync downloads: another hub answers 421 and says which one is.
func checkHome(ctx context.Context, a *hubAPI) error {
	_, err := a.messages(ctx, "")
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusMisdirectedRequest {
		return fmt.Errorf("log in with the API of the mailbox's home server: %s", ae.Message)
	}
	return nil
}
