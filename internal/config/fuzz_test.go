package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse feeds arbitrary text to the organization file loader: it must
// never panic, and every failure must be a list of errors that each name
// the file.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("../../examples/contoso/contoso.toml"); err == nil {
		f.Add(string(data))
	}
	f.Add(defaultTOML)
	f.Add(base + "[[send_connector]]\nname = \"X\"\naddress_spaces = [\"FAX:*;1\"]\nsource_servers = [\"hub1\"]\ndelivery = { kind = \"drop\", directory = \"d\" }\n")
	f.Add("[organization]\nretry = { glitch_count = 1, bogus = 2 }\n[[server]]\n[[server.receive]]\nmax_message_size = 1.5\n")
	f.Fuzz(func(t *testing.T, text string) {
		org, err := Parse([]byte(text), "fuzz.toml", "/fuzz") // Parse never touches the disk
		if err == nil {
			if org == nil {
				t.Fatal("nil organization without an error")
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error is not a non-empty Errors: %T %v", err, err)
		}
		for _, e := range errs {
			if e.File != "fuzz.toml" || e.Msg == "" {
				t.Fatalf("error without file or message: %+v", e)
			}
		}
	})
}
