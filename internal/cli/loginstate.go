package cli

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/waypost/waypost/internal/durable"
	"github.com/waypost/waypost/internal/loginlimit"
)

// loginState keeps the login attempts of `waypost checkpassword` between
// its runs (Dovecot starts one process per login, so a limiter in memory
// would forget every failure at once): a small file in the server's data
// folder, one attempt a line ("unix-nanoseconds ok|fail account address"),
// replayed into a loginlimit.Limiter at the start and written back with
// the new attempt. An exclusive lock (flock) on the file's ".lock"
// companion makes concurrent runs take turns. Attempts too old to matter
// are dropped: failures older than Window plus Lockout, and all but the
// last success of an account from an address, after KnownFor.
type loginState struct {
	path   string
	lock   *os.File
	events []loginEvent
	p      loginlimit.Policy
}

type loginEvent struct {
	at      time.Time
	ok      bool
	account string
	addr    netip.Addr
}

const loginStateFile = "checkpassword-logins"

// openLoginState locks and reads the state in dir.
func openLoginState(dir string, p loginlimit.Policy) (*loginState, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &loginState{path: filepath.Join(dir, loginStateFile), p: p}
	lock, err := os.OpenFile(s.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	s.lock = lock
	f, err := os.Open(s.path)
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		s.close()
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 {
			continue // a line cut short by a crash: the attempt is lost, nothing else
		}
		ns, err1 := strconv.ParseInt(fields[0], 10, 64)
		addr, err2 := netip.ParseAddr(fields[3])
		if err1 != nil || err2 != nil {
			continue
		}
		s.events = append(s.events, loginEvent{at: time.Unix(0, ns), ok: fields[1] == "ok", account: fields[2], addr: addr})
	}
	if err := sc.Err(); err != nil {
		s.close()
		return nil, fmt.Errorf("reading %s: %w", s.path, err)
	}
	return s, nil
}

// limiter returns a Limiter that has seen every kept attempt, at its time.
func (s *loginState) limiter() *loginlimit.Limiter {
	l := loginlimit.New(s.p, nil)
	var at time.Time
	l.Now = func() time.Time { return at }
	sort.SliceStable(s.events, func(i, j int) bool { return s.events[i].at.Before(s.events[j].at) })
	for _, e := range s.events {
		at = e.at
		if a := l.Check("imap", e.account, e.addr); !a.Refused {
			a.Result(e.ok)
		}
	}
	l.Now = nil
	return l
}

// record adds an attempt and writes the state back (file synced, then
// renamed over the old one).
func (s *loginState) record(ok bool, account string, addr netip.Addr) error {
	now := time.Now()
	s.events = append(s.events, loginEvent{at: now, ok: ok, account: strings.ToLower(account), addr: loginlimit.Key(addr)})
	p := s.limiter().Policy()
	lastOK := map[string]int{} // account and address -> index of its last success
	for i, e := range s.events {
		if e.ok {
			lastOK[e.account+" "+e.addr.String()] = i
		}
	}
	var b strings.Builder
	for i, e := range s.events {
		keep := !e.ok && now.Sub(e.at) < p.Window+p.Lockout
		if e.ok {
			keep = lastOK[e.account+" "+e.addr.String()] == i && now.Sub(e.at) < p.KnownFor
		}
		if keep && !strings.ContainsAny(e.account, " \n") {
			fmt.Fprintf(&b, "%d %s %s %s\n", e.at.UnixNano(), map[bool]string{true: "ok", false: "fail"}[e.ok], e.account, e.addr)
		}
	}
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return err
	}
	return durable.SyncDir(filepath.Dir(s.path))
}

func (s *loginState) close() {
	if s.lock != nil {
		s.lock.Close() // releases the flock
		s.lock = nil
	}
}
