package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/routing"
)

// OABEntry is one recipient of the offline address book.
type OABEntry struct {
	// ID is stable while the entry keeps its kind and its primary SMTP
	// address (its first address when it has no SMTP one): a digest of
	// both, 16 hex digits.
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`      // mailbox, contact or group
	Addresses []string `json:"addresses"` // proxy addresses, "SMTP:" primary, "smtp:" secondary
}

// oabFull is the whole book: GET /api/v1/oab, or ?since= with a version
// the hub does not know.
type oabFull struct {
	Version string     `json:"version"`
	Full    bool       `json:"full"` // always true
	Entries []OABEntry `json:"entries"`
}

// oabChanges is the answer to ?since=VERSION with a version the hub knows.
type oabChanges struct {
	Version string     `json:"version"`
	Since   string     `json:"since"`
	Full    bool       `json:"full"` // always false
	Added   []OABEntry `json:"added"`
	Changed []OABEntry `json:"changed"`
	Removed []string   `json:"removed"` // ids
}

// oabSnapshot is the book of one engine's directory.
type oabSnapshot struct {
	version string
	entries []OABEntry        // by ID
	digests map[string]string // ID -> digest of the entry
}

// oabHistory holds the snapshot of the current engine and the digests of
// the last few versions, so that changes since them can be computed.
type oabHistory struct {
	mu   sync.Mutex
	eng  *routing.Engine
	cur  *oabSnapshot
	past []*oabSnapshot // oldest first, entries dropped (only digests kept)
}

// oabVersions is how many versions the history keeps.
const oabVersions = 16

// snapshot returns the book of eng, computing it when eng is new.
func (h *oabHistory) snapshot(eng *routing.Engine) *oabSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.eng == eng {
		return h.cur
	}
	snap := newSnapshot(eng.Directory())
	h.eng = eng
	if h.cur != nil && h.cur.version == snap.version {
		return h.cur
	}
	if h.cur != nil {
		h.past = append(h.past, &oabSnapshot{version: h.cur.version, digests: h.cur.digests})
		if len(h.past) > oabVersions {
			h.past = h.past[len(h.past)-oabVersions:]
		}
	}
	h.cur = snap
	return snap
}

// find returns the digests of an earlier version, or nil.
func (h *oabHistory) find(version string) *oabSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.past {
		if p.version == version {
			return p
		}
	}
	return nil
}

// newSnapshot builds the book of a directory: its mailboxes, contacts and
// groups (never a password hash), sorted by id.
func newSnapshot(dir directory.Directory) *oabSnapshot {
	snap := &oabSnapshot{digests: map[string]string{}}
	for _, ent := range dir.Entries() {
		switch ent.Kind {
		case directory.Mailbox, directory.Contact, directory.Group:
		default:
			continue
		}
		e := OABEntry{Name: ent.Name, Kind: string(ent.Kind), Addresses: make([]string, 0, len(ent.Addresses))}
		for _, p := range ent.Addresses {
			t := p.Type
			if !p.Primary {
				t = strings.ToLower(t)
			}
			e.Addresses = append(e.Addresses, t+":"+p.Value)
		}
		e.ID = entryID(ent)
		for id, n := e.ID, 2; snap.digests[e.ID] != ""; n++ {
			e.ID = id + "-" + strconv.Itoa(n) // only entries without addresses can share an id
		}
		snap.digests[e.ID] = entryDigest(&e)
		snap.entries = append(snap.entries, e)
	}
	sort.Slice(snap.entries, func(i, j int) bool { return snap.entries[i].ID < snap.entries[j].ID })
	sum := sha256.New()
	for _, e := range snap.entries {
		sum.Write([]byte(e.ID + "\x00" + snap.digests[e.ID] + "\n"))
	}
	snap.version = hex.EncodeToString(sum.Sum(nil)[:8])
	return snap
}

// entryID digests the kind and the key of the primary SMTP address (else
// the first address, else the name): addresses are unique in a directory.
func entryID(ent *directory.Entry) string {
	key := "name:" + ent.Name
	if smtp := ent.PrimarySMTP(); smtp != "" {
		for _, p := range ent.Addresses {
			if p.Type == "SMTP" && p.Value == smtp {
				key = p.Key()
				break
			}
		}
	} else if len(ent.Addresses) > 0 {
		key = ent.Addresses[0].Key()
	}
	sum := sha256.Sum256([]byte(string(ent.Kind) + "\x00" + key))
	return hex.EncodeToString(sum[:8])
}

func entryDigest(e *OABEntry) string {
	sum := sha256.Sum256([]byte(e.Kind + "\x00" + e.Name + "\x00" + strings.Join(e.Addresses, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// versionRE is the form of a book version.
var versionRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// offlineAddressBook serves GET /api/v1/oab. Its version is also its ETag
// (If-None-Match -> 304). With ?since=VERSION the answer lists what was
// added, changed and removed since that version when the hub still knows
// it (it keeps the last 16 versions it has served since it started), and
// the whole book with "full": true when it does not.
func (s *Server) offlineAddressBook(w http.ResponseWriter, r *http.Request, eng *routing.Engine, c *caller) {
	q := r.URL.Query()
	since, hasSince := q.Get("since"), q.Has("since")
	if hasSince && !versionRE.MatchString(since) {
		writeError(w, http.StatusBadRequest, CodeBadSince, "since=%q is not an address book version (16 hex digits, from an earlier answer's \"version\")", since)
		return
	}
	// The newest engine, not the one the call began with: the history must
	// not go back to an older book.
	snap := s.oab.snapshot(s.cfg.Engine())
	w.Header().Set("ETag", etag(snap.version))
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, snap.version) {
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var old *oabSnapshot
	switch {
	case !hasSince:
	case since == snap.version:
		old = snap
	default:
		old = s.oab.find(since)
	}
	if old == nil {
		entries := snap.entries
		if entries == nil {
			entries = []OABEntry{}
		}
		writeJSON(w, http.StatusOK, oabFull{Version: snap.version, Full: true, Entries: entries})
		return
	}
	out := oabChanges{Version: snap.version, Since: since, Added: []OABEntry{}, Changed: []OABEntry{}, Removed: []string{}}
	for _, e := range snap.entries {
		switch d, ok := old.digests[e.ID]; {
		case !ok:
			out.Added = append(out.Added, e)
		case d != snap.digests[e.ID]:
			out.Changed = append(out.Changed, e)
		}
	}
	for id := range old.digests {
		if _, ok := snap.digests[id]; !ok {
			out.Removed = append(out.Removed, id)
		}
	}
	sort.Strings(out.Removed)
	writeJSON(w, http.StatusOK, out)
}
