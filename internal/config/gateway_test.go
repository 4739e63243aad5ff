package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const gatewayOrg = `[organization]
default_domain = "c.test"
[[accepted_domain]]
domain = "c.test"
[[site]]
name = "A"
[[server]]
name = "a1"
site = "A"
[[send_connector]]
name = "Fax"
address_spaces = ["FAX:*;1"]
source_servers = ["a1"]
delivery = { kind = "pipe", command = ["./bin/sendfax", "-n", "{address}"] }
[[send_connector]]
name = "Pager"
address_spaces = ["PAGER:*;1"]
source_servers = ["a1"]
delivery = { kind = "pipe", command = ["pager-send", "{address}"] }
[[send_connector]]
name = "X400"
address_spaces = ["X400:c=US;a= ;p=C;1"]
source_servers = ["a1"]
delivery = { kind = "drop", directory = "x400", pickup = "x400-in" }
`

func TestPipeCommandPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "org.toml")
	if err := os.WriteFile(path, []byte(gatewayOrg), 0o644); err != nil {
		t.Fatal(err)
	}
	org, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := org.SendConnectors[0].Delivery.Command; got[0] != filepath.Join(dir, "bin", "sendfax") || got[2] != "{address}" {
		t.Errorf("a path is relative to the file's folder: %q", got)
	}
	if got := org.SendConnectors[1].Delivery.Command[0]; got != "pager-send" {
		t.Errorf("a bare name stays for PATH: %q", got)
	}
	if d := org.SendConnectors[2].Delivery; d.Pickup != filepath.Join(dir, "x400-in") {
		t.Errorf("pickup %q", d.Pickup)
	}
	err = CheckFiles(org)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Line != 14 || !strings.Contains(errs[0].Error(), "sendfax") || errs[0].Fix == "" {
		t.Fatalf("want one error for the missing program on line 14, got %v", err)
	}
	os.Mkdir(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "sendfax"), []byte("#!/bin/sh\n"), 0o644)
	if err := CheckFiles(org); err == nil || !strings.Contains(err.Error(), "not executable") {
		t.Errorf("a program without x bits: %v", err)
	}
	os.Chmod(filepath.Join(dir, "bin", "sendfax"), 0o755)
	if err := CheckFiles(org); err != nil {
		t.Errorf("with the program in place: %v", err)
	}
}

func TestPickupIsNotTheDropFolder(t *testing.T) {
	text := strings.Replace(gatewayOrg, `pickup = "x400-in"`, `pickup = "./x400"`, 1)
	want(t, parseErrs(t, text), 24, "picks up from the folder it drops into")
}
