package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrOffline wraps every failure to reach the hub (connection refused,
// timeout, DNS): the client works on from its cache.
var ErrOffline = errors.New("hub unreachable")

// APIError is an error answer of the hub's API (interfaces.md section 5:
// JSON {"error","code"} with an HTTP status).
type APIError struct {
	Status  int    // HTTP status
	Code    string // the "code" of the JSON error, "" if none
	Message string // the "error" text, or the body
	Path    string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("hub API %s: HTTP %d", e.Path, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Status == http.StatusUnauthorized {
		s += " (check the user and password; run login again to change them)"
	}
	return s
}

// AddressTypes is the answer of GET /api/v1/address-types.
type AddressTypes struct {
	Site    string   `json:"site"`
	Types   []string `json:"types"`
	Version string   `json:"version"`
}

// OABEntry is one entry of the offline address book.
type OABEntry struct {
	ID        string   `json:"id"` // stable while the entry keeps its kind and primary address
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	Addresses []string `json:"addresses"` // proxy addresses, "SMTP:a@x", "smtp:b@x", "FAX:+1 555 0100"
}

// OABUpdate is the answer of GET /api/v1/oab: the whole book ("full":
// true, in Entries), or with ?since= a version the hub still knows the
// changes since it.
type OABUpdate struct {
	Version string     `json:"version"`
	Full    bool       `json:"full"`
	Entries []OABEntry `json:"entries"` // the whole book when Full
	Added   []OABEntry `json:"added"`
	Changed []OABEntry `json:"changed"`
	Removed []string   `json:"removed"` // ids of entries removed since
}

// MessageInfo describes one message of the user's mailbox on the hub.
type MessageInfo struct {
	ID      string `json:"id"`
	From    string `json:"from"`
	Subject string `json:"subject"`
	Date    string `json:"date"`
	Size    int64  `json:"size"`
}

// MessageList is the answer of GET /api/v1/mailbox/messages.
type MessageList struct {
	State    string        `json:"state"`
	Full     bool          `json:"full"` // every message of the mailbox, not only the new ones
	Messages []MessageInfo `json:"messages"`
}

// hubAPI is the HTTP client of one hub's API, authenticated as the user.
type hubAPI struct {
	base     string
	user     string
	password string
	http     *http.Client
}

func (p *Profile) api() *hubAPI {
	c := p.HTTP
	if c == nil {
		c = &http.Client{Timeout: p.timeout()}
	}
	return &hubAPI{base: strings.TrimRight(p.Settings.API, "/"), user: p.Settings.User, password: p.password, http: c}
}

// do sends a request and returns the response for a status in ok; other
// statuses become *APIError, transport failures wrap ErrOffline.
func (a *hubAPI) do(ctx context.Context, method, path string, hdr http.Header, ok ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("hub API URL %q: %w", a.base+path, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.SetBasicAuth(a.user, a.password)
	req.Header.Set("Accept", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) || isNetErr(err) {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrOffline, method, a.base+path, errors.Unwrap(err))
		}
		return nil, fmt.Errorf("%w: %v", ErrOffline, err)
	}
	for _, s := range ok {
		if resp.StatusCode == s {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	e := &APIError{Status: resp.StatusCode, Path: path}
	var j struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	if json.Unmarshal(body, &j) == nil && (j.Error != "" || j.Code != "") {
		e.Message, e.Code = j.Error, j.Code
	} else {
		e.Message = strings.TrimSpace(string(body))
	}
	return nil, e
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}

// getJSON decodes the JSON answer of a GET.
func (a *hubAPI) getJSON(ctx context.Context, path string, v any) error {
	resp, err := a.do(ctx, http.MethodGet, path, nil, http.StatusOK)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(v); err != nil {
		return fmt.Errorf("hub API %s: reading the answer: %w", path, err)
	}
	return nil
}

// addressTypes fetches the address types of the user's site. With etag
// set it is a conditional request: notModified reports a 304, and the
// cached list is current.
func (a *hubAPI) addressTypes(ctx context.Context, etag string) (at AddressTypes, newTag string, notModified bool, err error) {
	return a.addressTypesWait(ctx, etag, 0)
}

// addressTypesWait is addressTypes as a long poll: with an etag and wait
// above zero the hub holds the request until the list changes or wait
// passes (?wait=, interfaces.md section 5).
func (a *hubAPI) addressTypesWait(ctx context.Context, etag string, wait time.Duration) (at AddressTypes, newTag string, notModified bool, err error) {
	path := "/api/v1/address-types"
	if etag != "" && wait > 0 {
		path += "?wait=" + url.QueryEscape(wait.String())
	}
	hdr := http.Header{}
	if etag != "" {
		hdr.Set("If-None-Match", etag)
	}
	resp, err := a.do(ctx, http.MethodGet, path, hdr, http.StatusOK, http.StatusNotModified)
	if err != nil {
		return at, "", false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return at, etag, true, nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&at); err != nil {
		return at, "", false, fmt.Errorf("hub API %s: reading the answer: %w", path, err)
	}
	if at.Version == "" {
		return at, "", false, fmt.Errorf("hub API %s: the answer has no version", path)
	}
	newTag = resp.Header.Get("ETag")
	if newTag == "" {
		newTag = `"` + at.Version + `"`
	}
	return at, newTag, false, nil
}

// oab fetches the offline address book, or the changes since a version.
func (a *hubAPI) oab(ctx context.Context, since string) (OABUpdate, error) {
	path := "/api/v1/oab"
	if since != "" {
		path += "?since=" + url.QueryEscape(since)
	}
	var u OABUpdate
	err := a.getJSON(ctx, path, &u)
	return u, err
}

// messages lists the mailbox, or what arrived since a sync state.
func (a *hubAPI) messages(ctx context.Context, since string) (MessageList, error) {
	path := "/api/v1/mailbox/messages"
	if since != "" {
		path += "?since=" + url.QueryEscape(since)
	}
	var l MessageList
	err := a.getJSON(ctx, path, &l)
	return l, err
}

// message fetches one raw message.
func (a *hubAPI) message(ctx context.Context, id string) ([]byte, error) {
	path := "/api/v1/mailbox/messages/" + url.PathEscape(id)
	resp, err := a.do(ctx, http.MethodGet, path, nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: hub API %s: reading the message: %v", ErrOffline, path, err)
	}
	return b, nil
}
