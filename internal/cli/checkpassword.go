package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/delivery"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/hub"
	"github.com/waypost/waypost/internal/loginlimit"
	"github.com/waypost/waypost/internal/routing"
	"github.com/waypost/waypost/internal/smtpd"
)

func init() {
	register("checkpassword", "check a mail client's password for Dovecot (checkpassword interface)", runCheckpassword)
}

const checkpasswordAbout = `Dovecot's passdb and userdb "checkpassword" driver runs this command for
each login (cr.yp.to/checkpwd/interface.html, with Dovecot's extensions): it
reads "user NUL password NUL" from file descriptor 3 and checks them as SMTP
AUTH does (any SMTP address of the mailbox; the embedded store's or the
organization file's bcrypt hashes, or a bind to the LDAP directory), with the
same lockouts, which it keeps in the data folder between runs. On success it
runs PROGRAM (Dovecot gives checkpassword-reply) with USER set to the
mailbox's primary SMTP address, lower case, and HOME to its folder under the
server's data folder (mailboxes/ADDRESS, which holds Maildir/). With
AUTHORIZED=1 in the environment (a userdb lookup) no password is checked, and
AUTHORIZED=2 is passed on. Exit codes: 1 wrong user name or password (or
locked out), 3 no such mailbox (userdb lookup), 111 temporary failure (the
directory or the data folder unavailable, a bad organization file).
Without PROGRAM the result is printed instead.`

// Exit codes of the checkpassword interface.
const (
	cpBadPassword = 1
	cpNoUser      = 3
	cpTemporary   = 111
)

// cpInputMax is the most the interface gives on file descriptor 3.
const cpInputMax = 512

func runCheckpassword(env *Env, args []string) int {
	fs := newFlags(env, "checkpassword", "--config FILE [--server NAME] [PROGRAM ARGS...]", checkpasswordAbout)
	var of orgFlags
	of.register(fs, true)
	if code, ok := parseFlags(env, fs, args); !ok {
		if code == exitOK {
			return code
		}
		return cpTemporary
	}
	fd3 := os.NewFile(3, "fd 3")
	if fd3 == nil {
		fmt.Fprintln(env.Stderr, "waypost checkpassword: file descriptor 3 is not open: run by Dovecot's checkpassword driver, which writes user NUL password NUL on it")
		return cpTemporary
	}
	input, err := io.ReadAll(io.LimitReader(fd3, cpInputMax+1))
	fd3.Close()
	if err != nil {
		fmt.Fprintf(env.Stderr, "waypost checkpassword: reading file descriptor 3: %v\n", err)
		return cpTemporary
	}
	code, vars := checkpassword(env, &of, input, os.Getenv)
	if code != exitOK {
		return code
	}
	if fs.NArg() == 0 {
		for _, v := range vars {
			fmt.Fprintln(env.Stdout, v)
		}
		return exitOK
	}
	prog, err := exec.LookPath(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(env.Stderr, "waypost checkpassword: the program to run after a good login: %v\n", err)
		return cpTemporary
	}
	environ := os.Environ()
	for _, v := range vars {
		environ = setenv(environ, v)
	}
	err = syscall.Exec(prog, fs.Args(), environ)
	fmt.Fprintf(env.Stderr, "waypost checkpassword: running %s: %v\n", prog, err)
	return cpTemporary
}

// setenv replaces or adds "KEY=value" kv in environ.
func setenv(environ []string, kv string) []string {
	key, _, _ := strings.Cut(kv, "=")
	for i, e := range environ {
		if strings.HasPrefix(e, key+"=") {
			environ[i] = kv
			return environ
		}
	}
	return append(environ, kv)
}

// checkpassword checks input (user NUL password NUL ...) and returns the
// exit code and, on success, the variables for the program to run.
func checkpassword(env *Env, of *orgFlags, input []byte, getenv func(string) string) (int, []string) {
	say := func(code int, format string, args ...any) (int, []string) {
		fmt.Fprintf(env.Stderr, "waypost checkpassword: "+format+"\n", args...)
		return code, nil
	}
	if len(input) > cpInputMax {
		return say(cpBadPassword, "more than %d bytes on file descriptor 3", cpInputMax)
	}
	parts := bytes.SplitN(input, []byte{0}, 3)
	if len(parts) < 2 {
		return say(cpBadPassword, "file descriptor 3 holds no \"user NUL password NUL\"")
	}
	user, password := string(parts[0]), string(parts[1])
	org, ok := of.load(env)
	if !ok {
		return cpTemporary, nil
	}
	server, ok := of.serverName(env, org)
	if !ok {
		return cpTemporary, nil
	}
	s := org.Server(server)
	dir, closer, err := hub.OpenDirectory(org, s, slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return say(cpTemporary, "opening the directory of server %s: %v", s.Name, err)
	}
	if closer != nil {
		defer closer.Close()
	}
	if getenv("AUTHORIZED") == "1" {
		return userdbLookup(env, s, dir, user)
	}

	state, err := openLoginState(s.DataDir, checkpasswordPolicy(s))
	if err != nil {
		return say(cpTemporary, "the login state in %s: %v", s.DataDir, err)
	}
	defer state.close()
	remote, _ := netip.ParseAddr(getenv("TCPREMOTEIP"))
	service := getenv("SERVICE")
	if service == "" {
		service = "checkpassword"
	}
	att := state.limiter().Check(service, user, remote)
	if att.Refused {
		return say(cpBadPassword, "%s login of %q from %s refused: %s locked out until %s after too many failed logins", service, user, remote, att.Locked, att.Until.Format(time.RFC3339))
	}
	time.Sleep(att.Delay)
	engine := &atomic.Pointer[routing.Engine]{}
	engine.Store(routing.New(org, dir))
	primary, err := hub.Passwords{Engine: engine}.Check(user, password)
	switch {
	case errors.Is(err, directory.ErrBadCredentials):
		if err := state.record(false, user, remote); err != nil {
			return say(cpTemporary, "recording the failed login in %s: %v", state.path, err)
		}
		return say(cpBadPassword, "%s login of %q from %s: %v", service, user, remote, err)
	case err != nil:
		return say(cpTemporary, "%s login of %q: the directory could not check it: %v", service, user, err)
	}
	if err := state.record(true, user, remote); err != nil {
		return say(cpTemporary, "recording the login in %s: %v", state.path, err)
	}
	return exitOK, mailboxVars(s, primary)
}

// userdbLookup answers Dovecot's userdb lookup (AUTHORIZED=1): the mailbox
// of this server that has user as an SMTP address, with no password.
func userdbLookup(env *Env, s *config.Server, dir directory.Directory, user string) (int, []string) {
	a, err := address.Parse("SMTP:"+user, nil)
	if err != nil {
		fmt.Fprintf(env.Stderr, "waypost checkpassword: user %q is not an SMTP address: %v\n", user, err)
		return cpNoUser, nil
	}
	ent, err := dir.Find(a)
	if err != nil {
		fmt.Fprintf(env.Stderr, "waypost checkpassword: looking up %q: %v\n", user, err)
		return cpTemporary, nil
	}
	if ent == nil || ent.Kind != directory.Mailbox || !strings.EqualFold(ent.Server, s.Name) || ent.PrimarySMTP() == "" {
		fmt.Fprintf(env.Stderr, "waypost checkpassword: %q is no mailbox of server %s\n", user, s.Name)
		return cpNoUser, nil
	}
	return exitOK, append(mailboxVars(s, ent.PrimarySMTP()), "AUTHORIZED=2")
}

// mailboxVars are the variables of the checkpassword interface for a
// mailbox: USER its canonical name (the primary SMTP address, lower case:
// also the name LMTP delivers to, delivery.LMTPRecipient) and HOME its
// folder, whose Maildir/ Waypost's mailbox delivery writes.
func mailboxVars(s *config.Server, primary string) []string {
	folder := delivery.Folder(primary)
	return []string{
		"USER=" + strings.ToLower(primary),
		"HOME=" + filepath.Join(s.DataDir, "mailboxes", folder),
	}
}

// checkpasswordPolicy is the lockout policy of SMTP AUTH on the server's
// first submission connector (smtpd.LoginPolicy), or loginlimit's default.
func checkpasswordPolicy(s *config.Server) loginlimit.Policy {
	for _, rc := range s.Receive {
		if rc.Kind == config.KindSubmission {
			if p := smtpd.LoginPolicy(rc); p.MaxPerAddr > 0 || p.MaxPerAccount > 0 {
				return p
			}
		}
	}
	return loginlimit.DefaultPolicy()
}
