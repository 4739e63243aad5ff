package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/waypost/waypost/internal/api"
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/hub"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/testnet"
)

// hubOrg is two sites with a fax connector scoped to Branch (@SCOPED@);
// Alice on hub-hq has the password "pw". @EXTRA@ takes more recipients.
const hubOrg = `
[organization]
name = "Contoso"
default_domain = "contoso.test"
hub_secret_file = "hub.secret"
[[site]]
name = "HQ"
[[site]]
name = "Branch"
[[site_link]]
name = "HQ-Branch"
sites = ["HQ", "Branch"]
cost = 10
[[server]]
name = "hub-hq"
site = "HQ"
data_dir = "data/hub-hq"
[[server]]
name = "hub-branch"
site = "Branch"
data_dir = "data/hub-branch"
[[accepted_domain]]
domain = "contoso.test"
[[send_connector]]
name = "Branch Fax"
address_spaces = ["FAX:*;1"]
source_servers = ["hub-branch"]
scoped = @SCOPED@
delivery = { kind = "drop", directory = "fax-out" }
[[recipient]]
kind = "mailbox"
name = "Alice Example"
server = "hub-hq"
addresses = ["SMTP:alice@contoso.test"]
password_hash = "@HASH@"
[[recipient]]
kind = "mailbox"
name = "Bob Branch"
server = "hub-branch"
addresses = ["SMTP:bob@contoso.test"]
@EXTRA@
`

// testHub is the real HTTP API of hub-hq (internal/api) on a loopback
// httptest server, with an engine the test swaps as a reload would, and
// the hub's Maildirs.
type testHub struct {
	t      *testing.T
	engine atomic.Pointer[routing.Engine]
	boxes  *delivery.Maildir
	url    string
	hash   string

	mu   sync.Mutex
	seen []string // "METHOD path?query If-None-Match" of every request
}

func newTestHub(t *testing.T, scoped bool) *testHub {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	th := &testHub{t: t, boxes: &delivery.Maildir{Root: t.TempDir(), Hostname: "hub-hq.contoso.test"}, hash: string(h)}
	th.load(scoped, "")
	srv := api.New(api.Config{Server: "hub-hq", Engine: th.engine.Load, Auth: hub.Passwords{Engine: &th.engine}, Mailboxes: th.boxes})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		th.mu.Lock()
		th.seen = append(th.seen, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("If-None-Match"))
		th.mu.Unlock()
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); ts.Close() })
	th.url = ts.URL
	return th
}

// load builds the engine of hubOrg, as a reload of the file would.
func (th *testHub) load(scoped bool, extra string) {
	th.t.Helper()
	text := strings.NewReplacer("@SCOPED@", map[bool]string{true: "true", false: "false"}[scoped], "@HASH@", th.hash, "@EXTRA@", extra).Replace(hubOrg)
	org, err := config.Parse([]byte(text), "org.toml", th.t.TempDir())
	if err != nil {
		th.t.Fatal(err)
	}
	dir, err := directory.NewMemory(org.Recipients)
	if err != nil {
		th.t.Fatal(err)
	}
	th.engine.Store(routing.New(org, dir))
}

// requests returns the requests seen since the last call.
func (th *testHub) requests() []string {
	th.mu.Lock()
	defer th.mu.Unlock()
	r := th.seen
	th.seen = nil
	return r
}

// deliver puts a message into Alice's mailbox as the hub's Maildir agent does.
func (th *testHub) deliver(subject string) {
	th.t.Helper()
	msg := "From: Bob Branch <bob@contoso.test>\r\nSubject: " + subject + "\r\nDate: Sun, 29 Nov 2026 09:00:00 +0000\r\n\r\nhello\r\n"
	res := th.boxes.Deliver(context.Background(), &delivery.Message{ID: "q1", From: "bob@contoso.test", Arrival: time.Now(), Size: int64(len(msg)),
		Recipients: []delivery.Recipient{{Type: "SMTP", Address: "alice@contoso.test", Mailbox: "Alice Example", Folder: delivery.Folder("alice@contoso.test")}},
		Open:       func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(msg)), nil }})
	if res[0].Class != delivery.Delivered {
		th.t.Fatalf("delivering: %+v", res[0])
	}
}

func (th *testHub) login(t *testing.T) *Profile {
	t.Helper()
	p, err := Login(context.Background(), filepath.Join(t.TempDir(), "alice"), Settings{API: th.url, SMTP: testnet.RefusingAddr(t), User: "alice@contoso.test"}, "pw", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	th.requests()
	return p
}

// Against the real API: a local report only after the hub confirmed the
// list with a 304; after a reload that adds FAX, the same send revalidates
// (200, the new list) and no report is written.
func TestSendRevalidatesWithTheHub(t *testing.T) {
	th := newTestHub(t, true)
	p := th.login(t)
	types, _, _ := p.Types()
	if types.Site != "HQ" || types.Has("FAX") || types.ETag != `"`+types.Version+`"` {
		t.Fatalf("cached types %+v", types)
	}

	res, err := p.Send(context.Background(), Draft{To: []string{"[FAX:+1 555 0100]"}, Subject: "fax"})
	if err != nil || res.Refused != 1 || len(res.Reports) != 1 || res.Outbox != 0 {
		t.Fatalf("send: %+v %v", res, err)
	}
	if got := th.requests(); len(got) != 1 || got[0] != "GET /api/v1/address-types "+types.ETag {
		t.Errorf("requests: %q, want one conditional GET", got)
	}

	th.load(false, "")
	res, err = p.Send(context.Background(), Draft{To: []string{"[FAX:+1 555 0100]"}, Subject: "fax again"})
	if err != nil || res.Refused != 0 || res.Pending != 1 || len(res.Reports) != 0 || res.Outbox != 1 {
		t.Fatalf("send after the reload: %+v %v", res, err)
	}
	now, _, _ := p.Types()
	if !now.Has("FAX") || now.Version == types.Version {
		t.Errorf("types after revalidation: %+v", now)
	}
	if inbox, _ := p.Inbox(); len(inbox) != 1 {
		t.Errorf("inbox %+v, want only the first report", inbox)
	}

	// Sending to types the cache holds asks the hub nothing.
	th.requests()
	if _, err := p.Send(context.Background(), Draft{To: []string{"[FAX:+1 555 0101]", "bob@contoso.test"}, Subject: "no check"}); err != nil {
		t.Fatal(err)
	}
	if got := th.requests(); len(got) != 0 {
		t.Errorf("requests for cached types: %q", got)
	}
}

// Sync against the real API: the address book by changes since its
// version, the mailbox by its sync state, each message downloaded once.
func TestSyncWithTheHub(t *testing.T) {
	th := newTestHub(t, true)
	p := th.login(t)
	book, _ := p.Book()
	if len(book.Entries) != 2 || book.Version == "" {
		t.Fatalf("book %+v", book)
	}

	th.load(true, "[[recipient]]\nkind = \"contact\"\nname = \"Legal Fax\"\naddresses = [\"SMTP:legalfax@contoso.test\"]\ntarget = \"FAX:+1 555 0199\"\n")
	th.deliver("first")
	res, err := p.Sync(context.Background())
	if err != nil || !res.Online || len(res.Downloaded) != 1 || res.Outbox != 0 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	got := strings.Join(th.requests(), "\n")
	for _, want := range []string{"GET /api/v1/oab?since=" + book.Version, "GET /api/v1/mailbox/messages "} {
		if !strings.Contains(got, want) {
			t.Errorf("requests lack %q:\n%s", want, got)
		}
	}
	book2, _ := p.Book()
	rcpts, _ := Resolve(&book2, "to", []string{"legalfax@contoso.test"})
	if len(book2.Entries) != 3 || book2.Version == book.Version || rcpts[0].Entry != "Legal Fax" {
		t.Errorf("book after sync: %+v", book2)
	}
	inbox, _ := p.Inbox()
	if len(inbox) != 1 || inbox[0].Subject != "first" || inbox[0].Local {
		t.Errorf("inbox %+v", inbox)
	}
	st, _ := p.State()
	if st.MailboxState == "" || st.LastSync.IsZero() {
		t.Errorf("state %+v", st)
	}

	res, err = p.Sync(context.Background())
	if err != nil || len(res.Downloaded) != 0 {
		t.Errorf("second sync: %+v %v", res, err)
	}
	th.deliver("second")
	res, err = p.Sync(context.Background())
	if err != nil || len(res.Downloaded) != 1 {
		t.Errorf("third sync: %+v %v", res, err)
	}
	if got := strings.Join(th.requests(), "\n"); !strings.Contains(got, "GET /api/v1/mailbox/messages?since=") {
		t.Errorf("the mailbox was not listed by its state:\n%s", got)
	}
	if inbox, _ := p.Inbox(); len(inbox) != 2 {
		t.Errorf("inbox %+v", inbox)
	}
}

// A wrong password is an error of login (nothing written) and of sync.
func TestWrongPassword(t *testing.T) {
	th := newTestHub(t, true)
	dir := filepath.Join(t.TempDir(), "alice")
	_, err := Login(context.Background(), dir, Settings{API: th.url, SMTP: testnet.RefusingAddr(t), User: "alice@contoso.test"}, "wrong", 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("login: %v", err)
	}
	if _, err := Open(dir); err == nil {
		t.Errorf("a refused login left a profile")
	}
	p := th.login(t)
	p.password = "changed"
	if _, err := p.Sync(context.Background()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("sync with a wrong password: %v", err)
	}
}

// A long poll learns of a new list within a second of the reload, and
// holds the profile only to read it.
func TestWaitForTypes(t *testing.T) {
	th := newTestHub(t, true)
	p := th.login(t)
	p.Close()
	ctx := context.Background()

	if changed, err := WaitForTypes(ctx, p.Dir, 300*time.Millisecond, 5*time.Second); err != nil || changed {
		t.Errorf("nothing changed: %v %v", changed, err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		q, err := Open(p.Dir) // not locked out by the waiting call
		if err != nil {
			t.Error(err)
			return
		}
		q.Close()
		th.load(false, "")
	}()
	start := time.Now()
	changed, err := WaitForTypes(ctx, p.Dir, 20*time.Second, 5*time.Second)
	if took := time.Since(start); err != nil || !changed || took > 300*time.Millisecond+time.Second {
		t.Errorf("after the reload: changed %v, err %v, took %s", changed, err, took)
	}
	if got := strings.Join(th.requests(), "\n"); !strings.Contains(got, "/api/v1/address-types?wait=20s") {
		t.Errorf("requests:\n%s", got)
	}
}
