package cli

import (
	"fmt"
	"strings"

	"github.com/waypost/waypost/internal/dkim"
)

func init() {
	register("dkim", "make a DKIM signing key for an accepted domain and print its DNS record", runDKIM)
}

const dkimAbout = `keygen writes a new private key (PEM, mode 0600; an existing file is never
overwritten) and prints the DNS TXT record to publish for it (RFC 6376 section 3.6.1).
Then add to the domain's [[accepted_domain]]:
  dkim = { selector = "S", key_file = "FILE" }
(a list of such tables while rotating keys: each signs). Mail whose From: domain has a
key is signed when it leaves through a send connector of kind smtp.`

func runDKIM(env *Env, args []string) int {
	fs := newFlags(env, "dkim", "keygen --domain D --selector S [--algorithm rsa|ed25519] --out FILE", dkimAbout)
	domain := fs.String("domain", "", "the accepted domain the key signs for (d=)")
	selector := fs.String("selector", "", "the selector (s=), e.g. s2026")
	alg := fs.String("algorithm", "rsa", "rsa (2048 bits, every verifier knows it) or ed25519 (RFC 8463)")
	out := fs.String("out", "", "the file to write the private key to")
	if code, ok := parseFlags(env, fs, args); !ok {
		return code
	}
	switch {
	case fs.NArg() == 0:
		return usageError(env, fs, "name a subcommand: keygen")
	case fs.Arg(0) != "keygen" || fs.NArg() > 1:
		return usageError(env, fs, "unknown arguments %q: the only subcommand is keygen", strings.Join(fs.Args(), " "))
	case *domain == "":
		return usageError(env, fs, "--domain is missing: the domain of the From: addresses to sign")
	case *out == "":
		return usageError(env, fs, "--out is missing: the file for the private key, e.g. dkim/%s.%s.pem", *domain, *selector)
	case *alg != "rsa" && *alg != "ed25519":
		return usageError(env, fs, "--algorithm %q: use rsa or ed25519", *alg)
	}
	if err := dkim.CheckSelector(*selector); err != nil {
		return usageError(env, fs, "--selector: %v", err)
	}
	d := strings.TrimSuffix(strings.ToLower(*domain), ".")
	k, err := dkim.Generate(*alg)
	if err != nil {
		return fail(env, "making the key: %v", err)
	}
	rec, err := dkim.Record(d, *selector, k)
	if err != nil {
		return fail(env, "%v", err)
	}
	if err := dkim.WriteKey(*out, k); err != nil {
		return fail(env, "%v (choose another --out, or remove the old key once DNS no longer publishes it)", err)
	}
	fmt.Fprintln(env.Stdout, rec)
	fmt.Fprintf(env.Stderr, "wrote %s; publish the record above, then add to [[accepted_domain]] %s:\n  dkim = { selector = %q, key_file = %q }\n", *out, d, *selector, *out)
	return exitOK
}
