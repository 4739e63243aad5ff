// Package cli implements the waypost command line (interfaces.md section
// 6): one file per command, each with its own flags and --help. Commands
// write results to stdout and problems to stderr, and return an exit code;
// cmd/waypost only calls Main.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Env is what a command may touch of the outside world.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

type command struct {
	summary string
	run     func(env *Env, args []string) int
}

var commands = map[string]command{}

func register(name, summary string, run func(env *Env, args []string) int) {
	commands[name] = command{summary, run}
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and found problems (check) or failed
	exitUsage = 2 // bad flags or arguments
)

// Main runs the command named by args[0].
func Main(env *Env, args []string) int {
	if len(args) == 0 {
		usage(env.Stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(env.Stdout)
		return exitOK
	case "-version", "--version", "-V":
		args = append([]string{"version"}, args[1:]...)
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "waypost: unknown command %q\n\n", args[0])
		usage(env.Stderr)
		return exitUsage
	}
	return c.run(env, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Waypost: a mail transport for organizations.")
	fmt.Fprintln(w, "\nUsage: waypost <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun \"waypost <command> --help\" for a command's flags, \"waypost --version\" for the version.")
	fmt.Fprintln(w, "Exit codes: 0 success, 1 failure (the command ran and something failed), 2 usage error;")
	fmt.Fprintln(w, "\"waypost client send\" and \"sync\" add 3 (saved, finishes at a later sync) and 4 (some recipients refused).")
}

// newFlags makes a flag set whose errors and help go where the user looks.
func newFlags(env *Env, name, args, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("waypost "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: waypost %s %s\n\n%s\n\nFlags:\n", name, args, about)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns an exit code and false when the
// command should stop (help asked for, or bad flags).
func parseFlags(env *Env, fs *flag.FlagSet, args []string) (int, bool) {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(env.Stdout)
			fs.Usage()
			return exitOK, false
		}
	}
	if err := fs.Parse(interleave(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return exitOK, true
}

// interleave moves flags after positional arguments to the front, so that
// "waypost route alice@x --config f" works like the flags-first form.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBool(f) {
			if i+1 == len(args) {
				// The flag's value is missing: it is left last, alone
				// after the other flags, so that Parse says so rather
				// than taking "--" or an argument as its value.
				return flags
			}
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(flags, append([]string{"--"}, rest...)...)
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func fail(env *Env, format string, args ...any) int {
	fmt.Fprintf(env.Stderr, "waypost: "+format+"\n", args...)
	return exitFail
}

func usageError(env *Env, fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(env.Stderr, "waypost %s: "+format+"\n", append([]any{strings.TrimPrefix(fs.Name(), "waypost ")}, args...)...)
	fmt.Fprintf(env.Stderr, "Run \"%s --help\" for usage.\n", fs.Name())
	return exitUsage
}
