package harness

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Dovecot is a private Dovecot for one test: the configuration fragment
// of packaging/dovecot/waypost.conf, with the test's organization file,
// server and account in place of the marked values, under a dovecot.conf
// of its own in a temporary folder (base_dir, logs, no TLS, IMAP and LMTP
// on random loopback ports). No system service is involved.
type Dovecot struct {
	t    testing.TB
	bin  string
	dir  string
	conf string
	IMAP string // 127.0.0.1:port
	LMTP string // 127.0.0.1:port
	// Socket is the path of the LMTP unix socket (the fragment's
	// unix_listener, mode 0600, the account's).
	Socket string
	cmd    *exec.Cmd
	done   chan struct{}
	out    *syncWriter
}

// DovecotConfig is what a test's Dovecot serves.
type DovecotConfig struct {
	Account Account // the user of mail processes and of checkpassword
	Config  string  // the organization file "waypost checkpassword" reads
	Server  string  // the server whose mailboxes it serves
	Extra   string  // more settings, appended to dovecot.conf
}

// FindDovecot returns the dovecot program, or skips the test when it is
// not installed, unless the CI variable is set (CI and scripts/test.sh
// install it: there a missing Dovecot is a failure).
func FindDovecot(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"dovecot", "/usr/sbin/dovecot"} {
		if bin, err := exec.LookPath(p); err == nil {
			if _, err := os.Stat("/usr/lib/dovecot/lmtp"); err == nil {
				return bin
			}
		}
	}
	if os.Getenv("CI") == "" {
		t.Skip("dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd; scripts/test.sh installs it): skipping the Dovecot tests")
	}
	t.Fatal("dovecot (with its lmtp service) is not installed, and CI is set: scripts/test.sh installs it with apt-get (packages dovecot-imapd and dovecot-lmtpd)")
	return ""
}

// Account is the user that runs a test's Dovecot mail processes, its
// checkpassword program and the hub whose folders they share, as the
// waypost user does in production. Dovecot refuses to open mail as root,
// so a test run by root uses "nobody"; anyone else uses themselves.
type Account struct {
	Name, Group string
	UID, GID    int
	asRoot      bool // the test runs as root: chown and setuid to the account
}

// MailAccount returns the account of a Dovecot test.
func MailAccount(t testing.TB) Account {
	t.Helper()
	name := "nobody"
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		name = u.Username
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("the Dovecot tests' account %q: %v", name, err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatalf("the group of %q: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return Account{Name: name, Group: g.Name, UID: uid, GID: gid, asRoot: os.Geteuid() == 0}
}

// TempDir is a new folder for files the account shares with the test:
// when the test runs as root it is reachable by the account (t.TempDir's
// parent folder is not) and removed at cleanup.
func (a Account) TempDir(t testing.TB) string {
	t.Helper()
	if !a.asRoot {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "waypost-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a.Own(t, dir)
	return dir
}

// Own gives the account everything under path (when the test runs as
// root; otherwise the files are the account's already).
func (a Account) Own(t testing.TB, path string) {
	t.Helper()
	if !a.asRoot {
		return
	}
	err := filepath.Walk(path, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, a.UID, a.GID)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// StartHub is Start for a hub that runs as the account, so that Dovecot
// reads and writes its mailbox folders as the hub does.
func (a Account) StartHub(t testing.TB, config, server string, ready ...string) *Hub {
	t.Helper()
	var cred *syscall.Credential
	if a.asRoot {
		// The binary's folder is owner-only; the account must run it.
		if err := os.Chmod(filepath.Dir(Binary(t)), 0o755); err != nil {
			t.Fatal(err)
		}
		a.Own(t, filepath.Dir(config))
		cred = &syscall.Credential{Uid: uint32(a.UID), Gid: uint32(a.GID)}
	}
	return startHub(t, config, server, nil, cred, ready...)
}

// FragmentPath is packaging/dovecot/waypost.conf.
func FragmentPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "packaging", "dovecot", "waypost.conf")
}

// fragment is the packaging fragment with the test's values for the lines
// marked CHANGE; each replacement must happen, so that the fragment and
// the tests cannot drift apart.
func fragment(t testing.TB, c DovecotConfig) string {
	t.Helper()
	b, err := os.ReadFile(FragmentPath())
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	replace := func(old, new string, n int) {
		if got := strings.Count(text, old); got != n {
			t.Fatalf("%s: %q occurs %d times, the Dovecot harness expects %d", FragmentPath(), old, got, n)
		}
		text = strings.ReplaceAll(text, old, new)
	}
	replace("args = /usr/local/bin/waypost checkpassword --config /etc/waypost/org.toml --server hub-hq",
		fmt.Sprintf("args = %s checkpassword --config %s --server %s", Binary(t), c.Config, c.Server), 2)
	replace("mail_uid = waypost", "mail_uid = "+c.Account.Name, 1)
	replace("mail_gid = waypost", "mail_gid = "+c.Account.Group, 1)
	replace("  user = waypost", "  user = "+c.Account.Name, 2)
	return text
}

// StartDovecot starts a private Dovecot serving the mailboxes of c.Server.
func StartDovecot(t testing.TB, c DovecotConfig) *Dovecot {
	t.Helper()
	bin := FindDovecot(t)
	// Not t.TempDir, whose parent folder is the tester's only: the hub,
	// running as the account, must reach the LMTP socket in base_dir.
	dir, err := os.MkdirTemp("", "waypost-dovecot-base-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &Dovecot{t: t, bin: bin, dir: dir, IMAP: Port(t), LMTP: Port(t), Socket: filepath.Join(dir, "run", "lmtp")}
	for _, sub := range []string{"run", "state"} {
		if err := os.Mkdir(filepath.Join(d.dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	Write(t, filepath.Join(d.dir, "waypost.conf"), fragment(t, c))
	_, imapPort, _ := net.SplitHostPort(d.IMAP)
	_, lmtpPort, _ := net.SplitHostPort(d.LMTP)
	users := ""
	if !c.Account.asRoot {
		// Dovecot started by an ordinary user runs every process as
		// that user, and cannot chroot.
		users = fmt.Sprintf(`default_internal_user = %[1]s
default_login_user = %[1]s
default_internal_group = %[2]s
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
`, c.Account.Name, c.Account.Group)
	}
	d.conf = filepath.Join(d.dir, "dovecot.conf")
	Write(t, d.conf, fmt.Sprintf(`# A private Dovecot for one Waypost test.
instance_name = waypost-test-%d
base_dir = %[2]s/run
state_dir = %[2]s/state
log_path = %[2]s/dovecot.log
listen = 127.0.0.1
ssl = no
# Plain LOGIN over loopback, for the test's IMAP client.
disable_plaintext_auth = no
auth_verbose = yes
%[3]s
!include %[2]s/waypost.conf

service imap-login {
  inet_listener imap {
    port = %[4]s
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    port = %[5]s
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = 0
  }
}
%[6]s
`, os.Getpid(), d.dir, users, imapPort, lmtpPort, c.Extra))
	d.Start()
	t.Cleanup(d.Stop)
	return d
}

// Start runs dovecot in the foreground (again, after Stop) and waits until
// its IMAP and LMTP ports answer.
func (d *Dovecot) Start() {
	d.t.Helper()
	d.out = &syncWriter{w: &bytes.Buffer{}}
	d.cmd = exec.Command(d.bin, "-F", "-c", d.conf)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(d.cmd, d.done)
	deadline := time.Now().Add(20 * time.Second)
	for _, addr := range []string{d.IMAP, d.LMTP} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-d.done:
				d.t.Fatalf("dovecot exited at start:\n%s", d.Log())
			default:
			}
			if time.Now().After(deadline) {
				d.t.Fatalf("dovecot not listening on %s after 20s:\n%s", addr, d.Log())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Stop stops dovecot (SIGTERM to its process group, which ends its
// services too; SIGKILL after 10 seconds) and waits for it to exit.
func (d *Dovecot) Stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
	// The master waits for its services; whatever is left of the group
	// (a login process that hung) goes now.
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
}

// Log is what dovecot printed and its log file.
func (d *Dovecot) Log() string {
	d.out.mu.Lock()
	out := d.out.w.String()
	d.out.mu.Unlock()
	b, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
	return out + string(b)
}
