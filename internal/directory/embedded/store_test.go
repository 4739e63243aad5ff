package embedded

import (
	"errors"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/directory"
)

func open(t testing.TB, path string, ro bool) *Store {
	t.Helper()
	s, err := Open(path, Options{ReadOnly: ro, Wait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func proxies(t testing.TB, list ...string) []directory.Proxy {
	t.Helper()
	var out []directory.Proxy
	for _, s := range list {
		p, err := directory.ParseProxy(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func typed(t testing.TB, s string) address.Address {
	t.Helper()
	a, err := address.ParseTyped(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestLookupRulesMatchMemory: the store finds entries by exactly the rules
// of the in-memory directory (directory.LookupKeys): SMTP and other types
// case-insensitively, X.400 in any attribute order, FAX without written
// separators, EX through X500 proxies.
func TestLookupRulesMatchMemory(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	alice := &directory.Entry{Kind: directory.Mailbox, Name: "Alice", Server: "hub1", PasswordHash: string(hash), Addresses: proxies(t,
		"smtp:a@contoso.test", "SMTP:alice@contoso.test", "FAX:+1 (555) 010-0", "X500:/o=Contoso/cn=alice", "X400:c=US;a= ;p=Contoso;s=Alice;")}
	fax := &directory.Entry{Kind: directory.Contact, Name: "Fax", Addresses: proxies(t, "SMTP:fax@contoso.test"), Target: &address.Address{Type: "FAX", Value: "+1 555 0199"}}
	sales := &directory.Entry{Kind: directory.Group, Name: "Sales", Addresses: proxies(t, "SMTP:sales@contoso.test"), Members: []string{"alice@contoso.test", "[FAX:+1 555 0199]"}}
	mem, err := directory.NewMemory([]*directory.Entry{alice, fax, sales})
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, filepath.Join(t.TempDir(), "d", FileName), false)
	for _, e := range []*directory.Entry{alice, fax, sales} {
		if _, err := s.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	queries := []string{"SMTP:ALICE@Contoso.Test", "smtp:a@contoso.test", "fax:+15550100", "FAX:+1 555 0100", "EX:/O=Contoso/CN=Alice",
		"X500:/o=contoso/cn=alice", "X400:p=Contoso;c=us;s=alice;a= ", "SMTP:fax@CONTOSO.test", "SMTP:sales@contoso.test",
		"SMTP:bob@contoso.test", "FAX:+1 555 0101", "EX:/o=Contoso/cn=bob", "X500:/o=Contoso/cn=bobby", "SMS:+1 555 0100"}
	for _, q := range queries {
		a := typed(t, q)
		want := mem.Lookup(a)
		got, err := s.Find(a)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case want == nil && got != nil:
			t.Errorf("%s: found %q, the in-memory directory finds nothing", q, got.Name)
		case want != nil && got == nil:
			t.Errorf("%s: found nothing, want %q", q, want.Name)
		case want != nil:
			g := *got
			g.ID = want.ID
			if !reflect.DeepEqual(&g, want) {
				t.Errorf("%s: read back\n%+v\nwant\n%+v", q, g, want)
			}
		}
	}
	got := s.Lookup(typed(t, "SMTP:alice@contoso.test"))
	if again := s.Lookup(typed(t, "FAX:+15550100")); got.ID == "" || got.ID != again.ID {
		t.Errorf("IDs %q and %q: one entry must keep one ID", got.ID, again.ID)
	}
	types, v, err := s.Types()
	if want := []string{"FAX", "SMTP", "X400", "X500"}; err != nil || !reflect.DeepEqual(types, want) {
		t.Errorf("Types = %v %v, want %v", types, err, want)
	}
	var named []string
	s.EachWithType("SMTP", func(e *directory.Entry) bool { named = append(named, e.Name); return true })
	if want := []string{"Alice", "Fax", "Sales"}; !reflect.DeepEqual(named, want) {
		t.Errorf("EachWithType(SMTP) = %v", named)
	}
	if e, err := s.Authenticate("A@contoso.test", "pw"); err != nil || e.Name != "Alice" {
		t.Errorf("Authenticate: %v %v", e, err)
	}
	for _, c := range [][2]string{{"alice@contoso.test", "wrong"}, {"fax@contoso.test", "pw"}, {"nobody@contoso.test", "pw"}, {"bob)(description=prefix*", "pw"}} {
		if _, err := s.Authenticate(c[0], c[1]); !errors.Is(err, directory.ErrBadCredentials) {
			t.Errorf("Authenticate(%q, %q) = %v, want bad credentials", c[0], c[1], err)
		}
	}
	// A new address type changes the version; removing it changes it back.
	pager := &directory.Entry{Kind: directory.Contact, Name: "Pager", Addresses: proxies(t, "PAGER:555"), Target: &address.Address{Type: "SMTP", Value: "p@fabrikam.test"}}
	if _, err := s.Add(pager); err != nil {
		t.Fatal(err)
	}
	if _, v2, _ := s.Types(); v2 == v {
		t.Error("a new type did not change the types version")
	}
	if e, err := s.Remove(typed(t, "pager:555")); err != nil || e == nil || e.Name != "Pager" {
		t.Fatalf("Remove: %v %v", e, err)
	}
	if _, v3, _ := s.Types(); v3 != v {
		t.Error("removing the only PAGER entry did not restore the version")
	}
	if e := s.Lookup(typed(t, "PAGER:555")); e != nil {
		t.Error("removed entry still found")
	}
	var conflict *ConflictError
	if _, err := s.Add(&directory.Entry{Kind: directory.Mailbox, Name: "Other", Server: "hub1", Addresses: proxies(t, "SMTP:A@CONTOSO.TEST")}); !errors.As(err, &conflict) || conflict.Owner != "Alice" {
		t.Errorf("adding a taken address: %v", err)
	}
	if n, _ := s.Len(); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
}

// TestLocks: readers share the file (the hub and `directory show`); a
// writer cannot open it while a reader has it, and says so.
func TestLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	hub := open(t, path, true) // creates the file, then opens it read-only
	reader := open(t, path, true)
	if _, _, err := reader.Types(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := Open(path, Options{Wait: 300 * time.Millisecond})
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("writer beside a running hub: %v, want ErrInUse", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waited %s", d)
	}
	hub.Close()
	reader.Close()
	w := open(t, path, false)
	if _, err := Open(path, Options{ReadOnly: true, Wait: 100 * time.Millisecond}); !errors.Is(err, ErrInUse) {
		t.Errorf("reader beside a writer: %v", err)
	}
	w.Close()
}

func TestCodecRejectsDamage(t *testing.T) {
	e := &directory.Entry{Kind: directory.Group, Name: "G", Addresses: proxies(t, "SMTP:g@c.test"), Members: []string{"a@c.test"}}
	b := encode(e)
	for i := 0; i < len(b); i++ {
		if _, err := decode(b[:i]); err == nil {
			t.Errorf("a record cut at %d of %d decodes", i, len(b))
		}
	}
	if got, err := decode(b); err != nil || got.Name != "G" || got.Members[0] != "a@c.test" {
		t.Errorf("decode: %+v %v", got, err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(&directory.Entry{Kind: directory.Mailbox, Name: "A", Server: "s", Addresses: []directory.Proxy{{Address: address.Address{Type: "SMTP", Value: "a@b"}, Primary: true}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		decode(b) // never panics
	})
}

// TestReadOnlyConcurrent: the hub's read-only store shares one read
// transaction among every goroutine (run with -race).
func TestReadOnlyConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	w := open(t, path, false)
	for i := 0; i < 200; i++ {
		e := &directory.Entry{Kind: directory.Mailbox, Name: "U", Server: "hub1", Addresses: proxies(t, "SMTP:u"+strconv.Itoa(i)+"@c.test", "FAX:"+strconv.Itoa(1000+i))}
		if _, err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	r := open(t, path, true)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if e, err := r.Find(address.Address{Type: "SMTP", Value: "U" + strconv.Itoa(i) + "@C.test"}); err != nil || e == nil {
					t.Errorf("Find u%d: %v %v", i, e, err)
					return
				}
				if i%50 == 0 {
					n := 0
					r.EachWithType("FAX", func(*directory.Entry) bool { n++; return true })
					r.Types()
					if n != 200 {
						t.Errorf("EachWithType found %d", n)
					}
				}
			}
		}()
	}
	wg.Wait()
}
