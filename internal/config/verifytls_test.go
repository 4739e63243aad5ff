package config

import "testing"

// TestVerifiedTLSModes: tls "dane" and "mta-sts" are taken; dns_trusted
// is read; DANE on a server whose resolvers are not declared validating,
// and MTA-STS with smart hosts, are errors on the tls line with a fix.
func TestVerifiedTLSModes(t *testing.T) {
	connector := func(tls, hosts string) string {
		return `[[send_connector]]
name = "Internet"
address_spaces = ["SMTP:*;1"]
source_servers = ["hub1"]
delivery = { kind = "smtp", tls = "` + tls + `"` + hosts + ` }
`
	}
	org, err := Parse([]byte(base+"dns = [\"127.0.0.1\"]\ndns_trusted = true\n"+connector("dane", "")), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if s := org.Server("hub1"); !s.DNSTrusted || org.SendConnectors[0].Delivery.TLS != TLSDANE {
		t.Errorf("dns_trusted %v, tls %q", s.DNSTrusted, org.SendConnectors[0].Delivery.TLS)
	}
	if _, err := Parse([]byte(base+connector("mta-sts", "")), "org.toml", t.TempDir()); err != nil {
		t.Errorf("mta-sts without smart hosts: %v", err)
	}

	errs := parseErrs(t, base+connector("dane", ""))
	want(t, errs, 14, `tls "dane" needs DNSSEC-validated answers, and server "hub1" does not declare its resolvers validating (dns_trusted)`)
	errs = parseErrs(t, base+connector("mta-sts", `, smart_hosts = ["smtp.example.test:25"]`))
	want(t, errs, 14, `tls "mta-sts" applies to MX delivery`)
	errs = parseErrs(t, base+connector("verify", ""))
	want(t, errs, 14, `unknown tls mode "verify"`)
	errs = parseErrs(t, base+"dns_trusted = \"yes\"\n")
	want(t, errs, 10, "dns_trusted")
}
