package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/addrspace"
)

func buildSendConnectors(c *collector, org *Org, raws []rawSendConnector) {
	names := map[string]bool{}
	for i, r := range raws {
		path := fmt.Sprintf("send_connector[%d]", i)
		if !checkName(c, path, "send connector", r.Name) {
			continue
		}
		if names[fold(r.Name)] {
			c.add(path+".name", "give each send connector its own name", "send connector %q is defined twice", r.Name)
			continue
		}
		names[fold(r.Name)] = true
		who := fmt.Sprintf("send connector %q", r.Name)
		sc := &SendConnector{Name: r.Name, Scoped: r.Scoped, Enabled: r.Enabled == nil || *r.Enabled}
		if len(r.AddressSpaces) == 0 {
			c.add(path, `add address_spaces = ["SMTP:*;1"]`, "%s has no address_spaces", who)
		}
		nonSMTP := false
		for j, s := range r.AddressSpaces {
			sp, err := addrspace.Parse(s)
			if err != nil {
				msg, fix := err.Error(), ""
				var ae *addrspace.Error
				if errors.As(err, &ae) {
					msg, fix = ae.Msg, ae.Hint
				}
				c.add(fmt.Sprintf("%s.address_spaces[%d]", path, j), fix, "%s: address space %q: %s", who, s, msg)
				continue
			}
			if sp.Scoped {
				sc.Scoped = true // 2007 RTM "Local:" prefix
			}
			nonSMTP = nonSMTP || sp.Type != "SMTP"
			sc.AddressSpaces = append(sc.AddressSpaces, sp)
		}
		if len(r.SourceServers) == 0 {
			c.add(path, `add source_servers = ["<server name>"]`, "%s has no source_servers", who)
		}
		sites := map[string]bool{}
		seen := map[string]bool{}
		for j, name := range r.SourceServers {
			s := org.Server(name)
			if s == nil {
				c.add(fmt.Sprintf("%s.source_servers[%d]", path, j), "define the server with [[server]] or correct the name", "%s names unknown server %q", who, name)
				continue
			}
			if seen[fold(s.Name)] {
				c.add(fmt.Sprintf("%s.source_servers[%d]", path, j), "list each source server once", "%s lists server %q twice", who, name)
				continue
			}
			seen[fold(s.Name)] = true
			if s.Site != "" {
				sites[s.Site] = true
			}
			sc.SourceServers = append(sc.SourceServers, s.Name)
		}
		if sc.Scoped && len(sites) > 1 {
			c.add(path+".source_servers", "a scoped connector belongs to one site: keep source servers of one site, or make it unscoped", "%s is scoped but its source servers are in %d sites", who, len(sites))
		}
		if r.MaxMessageSize != nil {
			n, err := parseSize(r.MaxMessageSize)
			if err != nil {
				c.add(path+".max_message_size", `write a size such as "10MB", or "unlimited"`, "%s: %v", who, err)
			}
			sc.MaxMessageSize = n
		}
		sc.Delivery = buildDelivery(c, org, path+".delivery", who, &r.Delivery, nonSMTP)
		checkDANE(c, org, path+".delivery.tls", who, sc)
		org.SendConnectors = append(org.SendConnectors, sc)
	}
}

func buildDelivery(c *collector, org *Org, path, who string, r *rawDelivery, nonSMTP bool) Delivery {
	d := Delivery{Kind: r.Kind}
	switch r.Kind {
	case DeliverySMTP:
		d.TLS = orDefault(r.TLS, "opportunistic")
		d.Encapsulation = orDefault(r.Encapsulation, "imcea")
		for j, h := range r.SmartHosts {
			if err := checkHostPort(h); err != nil {
				c.add(fmt.Sprintf("%s.smart_hosts[%d]", path, j), "write host:port, e.g. 127.0.0.1:25", "%s: smart host %v", who, err)
			}
		}
		d.SmartHosts = r.SmartHosts
		if nonSMTP && len(d.SmartHosts) == 0 {
			c.add(path, "add smart_hosts = [\"gateway:25\"]: a non-SMTP address space needs a smart host that takes encapsulated addresses", "%s has a non-SMTP address space but no smart_hosts", who)
		}
		switch d.TLS {
		case "opportunistic", "required", "none", TLSDANE:
		case TLSMTASTS:
			if len(d.SmartHosts) > 0 {
				c.add(path+".tls", `remove smart_hosts to deliver to the recipient domains' MX hosts, or use tls = "required" (or "dane") with smart hosts`,
					"%s: tls \"mta-sts\" applies to MX delivery (RFC 8461), and the connector has smart_hosts", who)
			}
		default:
			c.add(path+".tls", `use "opportunistic", "required", "none", "dane" or "mta-sts"`, "%s: unknown tls mode %q", who, r.TLS)
		}
		switch d.Encapsulation {
		case "imcea", "rfc3192":
		default:
			c.add(path+".encapsulation", `use "imcea" or "rfc3192"`, "%s: unknown encapsulation %q", who, r.Encapsulation)
		}
		if r.Auth != nil {
			if r.Auth.Username == "" || r.Auth.PasswordFile == "" {
				c.add(path+".auth", `write auth = { username = "...", password_file = "..." }`, "%s: auth needs username and password_file", who)
			}
			d.AuthUsername, d.AuthPassword = r.Auth.Username, abs(org.Dir, r.Auth.PasswordFile)
		}
	case DeliveryDrop:
		if r.Directory == "" {
			c.add(path, `add directory = "fax-out" (relative to the organization file)`, "%s delivers to a drop folder but names none", who)
		}
		d.Directory, d.Pickup = abs(org.Dir, r.Directory), abs(org.Dir, r.Pickup)
		if d.Pickup != "" && d.Pickup == d.Directory {
			c.add(path+".pickup", `name another folder, e.g. pickup = "fax-in"`, "%s picks up from the folder it drops into: every message would loop", who)
		}
	case DeliveryPipe:
		if len(r.Command) == 0 || r.Command[0] == "" {
			c.add(path, `add command = ["/usr/local/bin/sendfax", "{address}"] (an argv list; no shell is used)`, "%s runs a program but names none", who)
		}
		d.Command = r.Command
		if len(d.Command) > 0 && strings.ContainsRune(d.Command[0], '/') {
			// A path, like every path of the file, is relative to its
			// folder; a bare name is looked up in PATH when it runs.
			d.Command = append([]string{abs(org.Dir, d.Command[0])}, d.Command[1:]...)
		}
		d.Timeout = durationOr(c, path+".timeout", r.Timeout, DefaultPipeTimeout, time.Second, 24*time.Hour)
	case DeliveryWebhook:
		u, err := url.Parse(r.URL)
		if r.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			c.add(path+".url", `write url = "https://gateway.example/hook"`, "%s needs an http or https url, not %q", who, r.URL)
		}
		d.URL = r.URL
		d.TokenFile = abs(org.Dir, r.TokenFile)
		d.Format = orDefault(r.Format, "json")
		if d.Format != "json" && d.Format != "multipart" {
			c.add(path+".format", `use "json" or "multipart"`, "%s: unknown webhook format %q", who, r.Format)
		}
		d.Timeout = durationOr(c, path+".timeout", r.Timeout, 30*time.Second, time.Second, time.Hour)
	case "":
		c.add(path, `add delivery = { kind = "smtp", smart_hosts = ["host:25"] } (or kind "drop", "pipe", "webhook")`, "%s has no delivery", who)
	default:
		c.add(path+".kind", `use "smtp", "drop", "pipe" or "webhook"`, "%s has unknown delivery kind %q", who, r.Kind)
	}
	return d
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// TLS modes of a send connector that follow what the next hop publishes.
const (
	TLSDANE   = "dane"    // RFC 7672: TLSA records, through validating resolvers
	TLSMTASTS = "mta-sts" // RFC 8461: the recipient domain's policy over HTTPS
)

// checkDANE: a connector with tls "dane" needs source servers whose
// resolvers are declared validating (dns_trusted); without them no TLSA
// answer is ever secure, and DANE would silently be opportunistic TLS.
func checkDANE(c *collector, org *Org, path, who string, sc *SendConnector) {
	if sc.Delivery.Kind != DeliverySMTP || sc.Delivery.TLS != TLSDANE {
		return
	}
	for _, name := range sc.SourceServers {
		if s := org.Server(name); s != nil && !s.DNSTrusted {
			c.add(path, fmt.Sprintf(`run a DNSSEC-validating resolver that server %q reaches over a trusted path (e.g. unbound on 127.0.0.1), name it in its dns and add dns_trusted = true; or use tls = "opportunistic"`, s.Name),
				"%s: tls \"dane\" needs DNSSEC-validated answers, and server %q does not declare its resolvers validating (dns_trusted)", who, s.Name)
		}
	}
}
