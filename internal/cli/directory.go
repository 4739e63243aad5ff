package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/directory"
	"github.com/waypost/waypost/internal/directory/embedded"
	"github.com/waypost/waypost/internal/hub"
)

func init() {
	register("directory", "add, remove, show, list and import recipients of the directory", runDirectory)
}

// multi is a flag that may be given several times.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ", ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

const directoryAbout = `Manages the recipients of the embedded directory (the organization file's
[directory] backend = "embedded"), kept in the data folder of a server:

  add      --kind mailbox|contact|group --name NAME --address TYPE:ADDR [--address ...]
           [--home SERVER] [--target ADDR] [--member ADDR ...] [--password-hash HASH]
  remove   ADDRESS          removes the entry that has ADDRESS
  show     ADDRESS          prints the entry that has ADDRESS (any type, any backend)
  list     [--type TYPE]    prints every entry (or those with an address of TYPE), JSON lines
  import   FILE             adds every entry of a CSV or LDIF file, or none of them

An upper-case type prefix (SMTP:) marks the primary address of its type, a lower-case one
(smtp:) a secondary. CSV files name their columns in the first line: kind, name, server,
address (repeat the column for more), target, member (repeatable), password_hash. LDIF files
are content records as ldapsearch, slapcat or ldifde write them (see docs/operations.md).

show and list also work while the hub runs. add, remove and import change the file, which a
running hub holds open: stop the hub, make the change, start it again.`

func runDirectory(env *Env, args []string) int {
	fs := newFlags(env, "directory", "--config FILE [--server NAME] add|remove|show|list|import ...", directoryAbout)
	var of orgFlags
	of.register(fs, true)
	var addrs, members multi
	kind := fs.String("kind", "", "add: mailbox, contact or group")
	name := fs.String("name", "", "add: display name")
	home := fs.String("home", "", "add: a mailbox's home server")
	target := fs.String("target", "", "add: a contact's target address (any type)")
	hash := fs.String("password-hash", "", "add: a mailbox's password hash (from \"waypost passwd\")")
	typ := fs.String("type", "", "list: only entries with an address of this type")
	format := fs.String("format", "", "import: csv or ldif (default: from the file name)")
	fs.Var(&addrs, "address", "add: a proxy address TYPE:ADDR (repeat for more)")
	fs.Var(&members, "member", "add: a group member's address (repeat for more)")
	if code, ok := parseFlags(env, fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		return usageError(env, fs, "say what to do: add, remove, show, list or import")
	}
	verb, rest := fs.Arg(0), fs.Args()[1:]
	wantArgs := map[string]int{"add": 0, "remove": 1, "show": 1, "list": 0, "import": 1}
	n, known := wantArgs[verb]
	if !known {
		return usageError(env, fs, "unknown action %q: use add, remove, show, list or import", verb)
	}
	if len(rest) != n {
		if n == 0 {
			return usageError(env, fs, "%s takes no argument, got %q", verb, strings.Join(rest, " "))
		}
		return usageError(env, fs, "%s takes one argument", verb)
	}
	org, ok := of.load(env)
	if !ok {
		return exitFail
	}
	server, ok := of.serverName(env, org)
	if !ok {
		return exitUsage
	}
	s := org.Server(server)
	switch verb {
	case "show", "list":
		dir, closer, err := hub.OpenDirectory(org, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return fail(env, "%s", directoryOpenError(err, s))
		}
		if closer != nil {
			defer closer.Close()
		}
		if verb == "show" {
			return directoryShow(env, dir, rest[0])
		}
		return directoryList(env, dir, strings.ToUpper(strings.TrimSpace(*typ)))
	}
	if org.Directory.Backend != config.BackendEmbedded {
		how := "list them as [[recipient]] in the organization file, or set [directory] backend = \"embedded\""
		if org.Directory.Backend == config.BackendLDAP {
			how = "change them in the LDAP directory itself (the hubs see changes within the cache lifetime)"
		}
		return fail(env, "the organization's directory backend is %q, and \"waypost directory %s\" changes the embedded store only: %s", org.Directory.Backend, verb, how)
	}
	st, err := embedded.Open(filepath.Join(s.DataDir, embedded.FileName), embedded.Options{Wait: time.Second})
	if err != nil {
		return fail(env, "%s", directoryOpenError(err, s))
	}
	defer st.Close()
	switch verb {
	case "add":
		return directoryAdd(env, fs, org, st, *kind, *name, *home, *target, *hash, addrs, members)
	case "remove":
		a, err := address.Parse(rest[0], nil)
		if err != nil {
			return usageError(env, fs, "address %q: %v", rest[0], err)
		}
		e, err := st.Remove(a)
		if err != nil {
			return fail(env, "%v", err)
		}
		if e == nil {
			return fail(env, "no entry has the address %s", a)
		}
		fmt.Fprintf(env.Stderr, "removed %s %q\n", e.Kind, e.Name)
		return exitOK
	default:
		return directoryImport(env, org, st, rest[0], *format)
	}
}

// directoryOpenError explains why the store could not be opened.
func directoryOpenError(err error, s *config.Server) string {
	if errors.Is(err, embedded.ErrInUse) {
		return fmt.Sprintf("%v.\nThe hub %s (waypost serve) is running, or another \"waypost directory\" command is changing the directory.\n"+
			"Stop the hub, run this command, and start the hub again (show, list and route work while it runs).", err, s.Name)
	}
	return err.Error()
}

func directoryAdd(env *Env, fs *flag.FlagSet, org *config.Org, st *embedded.Store, kind, name, home, target, hash string, addrs, members []string) int {
	e := &directory.Entry{Kind: directory.Kind(strings.ToLower(kind)), Name: name, PasswordHash: hash, Members: members}
	if home != "" {
		srv := org.Server(home)
		if srv == nil {
			return usageError(env, fs, "--home %q is not a server of the organization (%s)", home, serverList(org))
		}
		e.Server = srv.Name
	}
	for _, s := range addrs {
		p, err := directory.ParseProxy(s)
		if err != nil {
			return usageError(env, fs, "--address %q: %v (write TYPE:address, e.g. SMTP:alice@contoso.test)", s, err)
		}
		e.Addresses = append(e.Addresses, p)
	}
	if target != "" {
		t, err := address.Parse(target, nil)
		if err != nil {
			return usageError(env, fs, "--target %q: %v", target, err)
		}
		e.Target = &t
	}
	if err := embedded.Check(e); err != nil {
		return usageError(env, fs, "%v", err)
	}
	id, err := st.Add(e)
	if err != nil {
		return fail(env, "%v", err)
	}
	e.ID = id
	return writeEntry(env, e)
}

func directoryImport(env *Env, org *config.Org, st *embedded.Store, file, format string) int {
	if format == "" {
		switch strings.ToLower(filepath.Ext(file)) {
		case ".csv":
			format = "csv"
		case ".ldif", ".ldf":
			format = "ldif"
		default:
			return fail(env, "cannot tell the format of %s from its name: add --format csv or --format ldif", file)
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return fail(env, "%v", err)
	}
	defer f.Close()
	start := time.Now()
	var recs []embedded.Record
	switch strings.ToLower(format) {
	case "csv":
		recs, err = embedded.ReadCSV(f, file)
	case "ldif":
		recs, err = embedded.ReadLDIF(f, file)
	default:
		return fail(env, "unknown --format %q: use csv or ldif", format)
	}
	if err == nil || errors.As(err, new(embedded.LineErrors)) {
		_, err = st.Import(recs, embedded.ImportOptions{File: file, Errors: err, Server: func(name string) (string, bool) {
			if s := org.Server(name); s != nil {
				return s.Name, true
			}
			return "", false
		}})
	}
	if err != nil {
		fmt.Fprintln(env.Stderr, err)
		return fail(env, "nothing was imported from %s; fix the lines above and run the import again", file)
	}
	fmt.Fprintf(env.Stderr, "imported %d entries from %s into %s in %s\n", len(recs), file, st.Path(), time.Since(start).Round(time.Millisecond))
	return exitOK
}

func directoryShow(env *Env, dir directory.Directory, s string) int {
	a, err := address.Parse(s, nil)
	if err != nil {
		return fail(env, "address %q: %v", s, err)
	}
	e, err := dir.Find(a)
	if err != nil {
		return fail(env, "%v", err)
	}
	if e == nil {
		return fail(env, "no entry has the address %s", a)
	}
	return writeEntry(env, e)
}

func directoryList(env *Env, dir directory.Directory, typ string) int {
	enc := json.NewEncoder(env.Stdout)
	enc.SetEscapeHTML(false)
	var werr error
	each := func(e *directory.Entry) bool {
		werr = enc.Encode(entryJSON(e))
		return werr == nil
	}
	var err error
	if typ != "" {
		err = dir.EachWithType(typ, each)
	} else {
		err = dir.Walk(each)
	}
	if err == nil {
		err = werr
	}
	if err != nil {
		return fail(env, "%v", err)
	}
	return exitOK
}

// entryOut is the JSON form of an entry (never its password hash).
type entryOut struct {
	ID          string   `json:"id"`
	Kind        string   `json:"kind"`
	Name        string   `json:"name"`
	Server      string   `json:"server,omitempty"`
	Addresses   []string `json:"addresses"`
	Target      string   `json:"target,omitempty"`
	Members     []string `json:"members,omitempty"`
	HasPassword bool     `json:"has_password,omitempty"`
}

func entryJSON(e *directory.Entry) entryOut {
	o := entryOut{ID: e.ID, Kind: string(e.Kind), Name: e.Name, Server: e.Server, Members: e.Members, HasPassword: e.PasswordHash != "", Addresses: []string{}}
	for _, p := range e.Addresses {
		t := strings.ToLower(p.Type)
		if p.Primary {
			t = p.Type
		}
		o.Addresses = append(o.Addresses, t+":"+p.Value)
	}
	if e.Target != nil {
		o.Target = e.Target.String()
	}
	return o
}

func writeEntry(env *Env, e *directory.Entry) int {
	enc := json.NewEncoder(env.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(entryJSON(e)); err != nil {
		return fail(env, "writing output: %v", err)
	}
	return exitOK
}
