package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// CheckFiles checks what start-up needs from the file system: the hub
// secret, TLS certificates, secret files of connectors, that programs of
// pipe connectors given by path are executable, and that data, drop and
// pickup folders exist or can be created. It creates nothing. Like Load, it
// reports every problem (as Errors), naming the file and line of the
// setting; pos is re-read from the organization file for the lines.
func CheckFiles(org *Org) error {
	c := &collector{file: org.File}
	if org.File != "" {
		if data, err := os.ReadFile(org.File); err == nil {
			c.pos = indexPositions(data)
		}
	}
	if c.pos == nil {
		c.pos = positions{}
	}
	if org.HubSecretFile != "" {
		if err := readable(org.HubSecretFile); err != nil {
			c.add("organization.hub_secret_file", fmt.Sprintf(`run "waypost secret > %s"`, org.HubSecretFile), "hub secret: %v", err)
		}
	}
	for i, s := range org.Servers {
		if err := creatable(s.DataDir); err != nil {
			c.add(fmt.Sprintf("server[%d].data_dir", i), "create the folder or point data_dir at a writable place", "data_dir of server %q: %v", s.Name, err)
		}
		if s.RelayTLSCert != "" {
			if _, err := tls.LoadX509KeyPair(s.RelayTLSCert, s.RelayTLSKey); err != nil {
				c.add(fmt.Sprintf("server[%d].relay_tls", i), "give a PEM certificate and its private key, or remove relay_tls to have the hub make a self-signed one", "relay listener of server %q: %v", s.Name, err)
			}
		}
		for j, rc := range s.Receive {
			if rc.TLSCert == "" {
				continue
			}
			if _, err := tls.LoadX509KeyPair(rc.TLSCert, rc.TLSKey); err != nil {
				c.add(fmt.Sprintf("server[%d].receive[%d].tls", i, j), "give a PEM certificate and its private key", "receive connector %q of server %q: %v", rc.Name, s.Name, err)
			}
		}
	}
	checkDirectoryFiles(c, org)
	checkDKIMFiles(c, org)
	for i, sc := range org.SendConnectors {
		d := sc.Delivery
		path := fmt.Sprintf("send_connector[%d].delivery", i)
		if d.AuthPassword != "" {
			if err := readable(d.AuthPassword); err != nil {
				c.add(path+".auth", "create the file with the password on its first line", "send connector %q: password file: %v", sc.Name, err)
			}
		}
		if d.TokenFile != "" {
			if err := readable(d.TokenFile); err != nil {
				c.add(path+".token_file", "create the file with the bearer token", "send connector %q: token file: %v", sc.Name, err)
			}
		}
		if len(d.Command) > 0 && filepath.IsAbs(d.Command[0]) {
			if err := executable(d.Command[0]); err != nil {
				c.add(path+".command", "install the program there, make it executable (chmod +x), or correct the path", "send connector %q: %v", sc.Name, err)
			}
		}
		for _, dir := range []string{d.Directory, d.Pickup} {
			if dir == "" {
				continue
			}
			if err := creatable(dir); err != nil {
				c.add(path+".directory", "create the folder or choose a writable place", "send connector %q: %v", sc.Name, err)
			}
		}
	}
	if len(c.errs) > 0 {
		return c.errs
	}
	return nil
}

// executable reports whether path is a file someone may run.
func executable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("program %s does not exist", path)
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a folder, not a program", path)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not executable", path)
	}
	return nil
}

func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// creatable reports whether path is a folder, or could be created as one
// (its nearest existing parent is a folder).
func creatable(path string) error {
	for p := path; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a folder", p)
			}
			return nil
		}
		if !os.IsNotExist(err) {
			return err
		}
		if filepath.Dir(p) == p {
			return fmt.Errorf("no existing parent folder of %s", path)
		}
	}
}
