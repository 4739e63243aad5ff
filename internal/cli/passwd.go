package cli

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/waypost/waypost/internal/hub"
)

func init() {
	register("passwd", "print a password hash for a mailbox's password_hash (password on stdin)", runPasswd)
	register("secret", "print a new hub secret for hub_secret_file", runSecret)
}

func runPasswd(env *Env, args []string) int {
	fs := newFlags(env, "passwd", "< password",
		"Reads a password from the first line of standard input and prints its bcrypt hash,\n"+
			"to paste as password_hash of a mailbox. At a terminal it asks twice and does not echo;\n"+
			"the password never appears in a process list.")
	if code, ok := parseFlags(env, fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "the password is read from standard input, not given as an argument")
	}
	var pw string
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		// Typed at a terminal: asked twice, never echoed.
		var code int
		if pw, code = askPassword(env, int(f.Fd())); code != exitOK {
			return code
		}
	} else {
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		pw = strings.TrimRight(line, "\r\n")
		if pw == "" {
			if err != nil && line == "" {
				return fail(env, "no password on standard input; try: printf '%%s\\n' 'the password' | waypost passwd")
			}
			return fail(env, "the password is empty")
		}
	}
	h, err := hub.HashPassword(pw)
	if err != nil {
		return fail(env, "hashing: %v", err)
	}
	fmt.Fprintln(env.Stdout, h)
	return exitOK
}

// askPassword reads a password twice from the terminal fd with echo off.
func askPassword(env *Env, fd int) (string, int) {
	read := func(prompt string) (string, error) {
		restore, err := echoOff(fd)
		if err != nil {
			return "", err
		}
		fmt.Fprint(env.Stderr, prompt)
		b, err := term.ReadPassword(fd)
		restore()
		fmt.Fprintln(env.Stderr)
		return string(b), err
	}
	pw, err := read("Password: ")
	if err != nil {
		return "", fail(env, "reading the password from the terminal: %v", err)
	}
	if pw == "" {
		return "", fail(env, "the password is empty")
	}
	again, err := read("The same again: ")
	if err != nil {
		return "", fail(env, "reading the password from the terminal: %v", err)
	}
	if again != pw {
		return "", fail(env, "the two passwords differ; nothing was printed")
	}
	return pw, exitOK
}

func runSecret(env *Env, args []string) int {
	fs := newFlags(env, "secret", "> hub.secret",
		"Prints 32 random bytes, base64-encoded: a new hub secret. Every hub of the organization\n"+
			"reads the same file (hub_secret_file); keep it readable by the hubs only.")
	if code, ok := parseFlags(env, fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return fail(env, "reading random bytes: %v", err)
	}
	fmt.Fprintln(env.Stdout, base64.StdEncoding.EncodeToString(b))
	return exitOK
}
