package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

var serverName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func buildServers(c *collector, org *Org, raws []rawServer) {
	if len(raws) == 0 {
		c.add("", `add a server: [[server]] name = "hub1" site = "HQ"`, "the organization has no [[server]]")
	}
	listeners := map[string]string{} // host:port -> who uses it
	dataDirs := map[string]string{}
	claim := func(path, addr, who string) {
		if addr == "" {
			return
		}
		if err := checkHostPort(addr); err != nil {
			c.add(path, "write host:port, e.g. 127.0.0.1:2525", "%s: %v", who, err)
			return
		}
		if prev, ok := listeners[addr]; ok {
			c.add(path, "give every listener its own port", "%s listens on %s, which %s already uses", who, addr, prev)
			return
		}
		listeners[addr] = who
	}
	for i, r := range raws {
		path := fmt.Sprintf("server[%d]", i)
		if !checkName(c, path, "server", r.Name) {
			continue
		}
		if !serverName.MatchString(r.Name) {
			c.add(path+".name", "use letters, digits, '.', '_' and '-' only", "server name %q is not a plain name", r.Name)
			continue
		}
		if org.Server(r.Name) != nil {
			c.add(path+".name", "give each server its own name", "server %q is defined twice", r.Name)
			continue
		}
		s := &Server{Name: r.Name, FQDN: r.FQDN, Relay: r.Relay, API: r.API, DNS: buildDNS(c, path+".dns", r.DNS), DNSTrusted: r.DNSTrusted}
		if site := org.Site(r.Site); site != nil {
			s.Site = site.Name
		} else if r.Site == "" {
			c.add(path, "add site = \"...\" naming one of the [[site]] entries ("+siteNames(org)+")", "server %q has no site", r.Name)
		} else {
			c.add(path+".site", "define the site with [[site]] or correct the name ("+siteNames(org)+")", "server %q names unknown site %q", r.Name, r.Site)
		}
		if s.FQDN == "" {
			s.FQDN = r.Name
			if org.DefaultDomain != "" {
				s.FQDN = r.Name + "." + org.DefaultDomain
			}
		} else if err := checkDomain(fold(s.FQDN)); err != nil {
			c.add(path+".fqdn", "write the server's host name, e.g. hub1.contoso.test", "fqdn: %v", err)
		}
		dd := r.DataDir
		if dd == "" {
			dd = "data/" + r.Name
		}
		s.DataDir = abs(org.Dir, dd)
		if prev, ok := dataDirs[s.DataDir]; ok {
			c.add(path+".data_dir", "give each server its own data_dir", "server %q uses the data_dir of server %q", r.Name, prev)
		}
		dataDirs[s.DataDir] = r.Name
		switch s.QueueSync = r.QueueSync; s.QueueSync {
		case "":
			s.QueueSync = "auto"
		case "auto", "filesystem", "file":
		default:
			c.add(path+".queue_sync", `write queue_sync = "auto" (the default), "filesystem" or "file"`, "server %q: queue_sync %q is not a way to sync the queue", r.Name, r.QueueSync)
		}
		s.MailboxDelivery = buildMailboxDelivery(c, org, path+".mailbox_delivery", r.Name, r.MailboxDelivery)
		claim(path+".relay", r.Relay, fmt.Sprintf("relay of server %q", r.Name))
		buildRelayTLS(c, org, path, s, r)
		claim(path+".api", r.API, fmt.Sprintf("api of server %q", r.Name))
		names := map[string]bool{}
		for j, rr := range r.Receive {
			rp := fmt.Sprintf("%s.receive[%d]", path, j)
			if !checkName(c, rp, "receive connector", rr.Name) {
				continue
			}
			if names[fold(rr.Name)] {
				c.add(rp+".name", "give each receive connector of a server its own name", "server %q has two receive connectors named %q", r.Name, rr.Name)
				continue
			}
			names[fold(rr.Name)] = true
			who := fmt.Sprintf("receive connector %q of server %q", rr.Name, r.Name)
			if rr.Listen == "" {
				c.add(rp, `add listen = "127.0.0.1:2525"`, "%s has no listen address", who)
			}
			claim(rp+".listen", rr.Listen, who)
			s.Receive = append(s.Receive, buildReceive(c, org, rp, who, &rr))
		}
		org.Servers = append(org.Servers, s)
		org.servers[fold(s.Name)] = s
	}
}

// buildRelayTLS reads relay_tls = { cert, key }: the relay listener's
// certificate, paths relative to the organization file.
func buildRelayTLS(c *collector, org *Org, path string, s *Server, r rawServer) {
	if r.RelayTLS == nil {
		return
	}
	switch {
	case r.RelayTLS.Cert == "" || r.RelayTLS.Key == "":
		c.add(path+".relay_tls", `write relay_tls = { cert = "relay.crt", key = "relay.key" }, or remove it to have the hub make a self-signed certificate`, "server %q: relay_tls needs both cert and key", r.Name)
		return
	case r.Relay == "":
		c.add(path+".relay_tls", `add relay = "host:port", or remove relay_tls`, "server %q has relay_tls but no relay listener", r.Name)
		return
	}
	s.RelayTLSCert, s.RelayTLSKey = abs(org.Dir, r.RelayTLS.Cert), abs(org.Dir, r.RelayTLS.Key)
}

func buildReceive(c *collector, org *Org, path, who string, r *rawReceive) *ReceiveConnector {
	rc := &ReceiveConnector{
		Name:           r.Name,
		Listen:         r.Listen,
		Kind:           r.Kind,
		MaxRecipients:  intOr(r.MaxRecipients, DefaultMaxRecipients),
		MaxLineLength:  intOr(r.MaxLineLength, DefaultMaxLineLength),
		MaxErrors:      intOr(r.MaxErrors, DefaultMaxErrors),
		MaxHopCount:    intOr(r.MaxHopCount, org.MaxHopCount),
		CommandTimeout: durationOr(c, path+".command_timeout", r.CommandTimeout, DefaultCommandTimeout, time1s, time1h),
		DataTimeout:    durationOr(c, path+".data_timeout", r.DataTimeout, DefaultDataTimeout, time1s, time1h),
	}
	switch rc.Kind {
	case "":
		rc.Kind = KindSMTP
	case KindSMTP, KindSubmission:
	default:
		c.add(path+".kind", `use kind = "smtp" (port-25 style) or kind = "submission" (AUTH required)`, "%s has unknown kind %q", who, r.Kind)
	}
	switch rc.SenderAuth = r.SenderAuth; rc.SenderAuth {
	case "":
		rc.SenderAuth = SenderAuthOff
		if rc.Kind == KindSMTP {
			rc.SenderAuth = SenderAuthTag
		}
	case SenderAuthTag, SenderAuthEnforce, SenderAuthOff:
	default:
		c.add(path+".sender_auth", `use sender_auth = "tag" (add Authentication-Results), "enforce" (also refuse DMARC p=reject failures) or "off"`, "%s has unknown sender_auth %q", who, r.SenderAuth)
	}
	if len(r.RemoteRanges) == 0 {
		rc.RemoteRanges = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	}
	for k, s := range r.RemoteRanges {
		p, err := parsePrefix(s)
		if err != nil {
			c.add(fmt.Sprintf("%s.remote_ranges[%d]", path, k), `write an address or a CIDR range such as "127.0.0.0/8"`, "%s: %v", who, err)
			continue
		}
		rc.RemoteRanges = append(rc.RemoteRanges, p)
	}
	for k, s := range r.RelayRanges {
		p, err := parsePrefix(s)
		if err != nil {
			c.add(fmt.Sprintf("%s.relay_ranges[%d]", path, k), `write an address or a CIDR range such as "127.0.0.1/32"`, "%s: %v", who, err)
			continue
		}
		rc.RelayRanges = append(rc.RelayRanges, p)
	}
	rc.MaxMessageSize = DefaultMaxMessageSize
	if r.MaxMessageSize != nil {
		n, err := parseSize(r.MaxMessageSize)
		if err != nil {
			c.add(path+".max_message_size", `write a size such as "35MB", "10MiB" or 1048576`, "%s: %v", who, err)
		}
		rc.MaxMessageSize = n
	}
	if rc.MaxRecipients < 1 {
		c.add(path+".max_recipients", "use 1 or more (default 200)", "%s: max_recipients %d is below 1", who, rc.MaxRecipients)
	}
	if rc.MaxLineLength < 512 {
		c.add(path+".max_line_length", "use 512 or more (RFC 5321 section 4.5.3.1; default 2048)", "%s: max_line_length %d is below 512", who, rc.MaxLineLength)
	}
	if rc.MaxErrors < 1 {
		c.add(path+".max_errors", "use 1 or more (default 10)", "%s: max_errors %d is below 1", who, rc.MaxErrors)
	}
	if rc.MaxHopCount < 1 || rc.MaxHopCount > 500 {
		c.add(path+".max_hop_count", "use 1 to 500", "%s: max_hop_count %d is out of range", who, rc.MaxHopCount)
	}
	if r.TLS != nil {
		if r.TLS.Cert == "" || r.TLS.Key == "" {
			c.add(path+".tls", `write tls = { cert = "cert.pem", key = "key.pem" }`, "%s: tls needs both cert and key", who)
		}
		rc.TLSCert, rc.TLSKey = abs(org.Dir, r.TLS.Cert), abs(org.Dir, r.TLS.Key)
	}
	buildReceiveLimits(c, path, who, r, rc)
	return rc
}

// ParseDNS reads a list of resolvers given outside the organization file
// (waypost serve --dns), with the rules of [[server]] dns.
func ParseDNS(raws []string) ([]string, error) {
	c := &collector{file: "--dns"}
	out := buildDNS(c, "dns", raws)
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return out, nil
}

// buildMailboxDelivery checks a server's mailbox_delivery: kind "maildir"
// (the default) or "lmtp" with the address of an LMTP server (RFC 2033),
// host:port or "unix:" and an absolute socket path.
func buildMailboxDelivery(c *collector, org *Org, path, server string, r *rawMailboxDelivery) MailboxDelivery {
	if r == nil {
		return MailboxDelivery{Kind: MailboxMaildir}
	}
	md := MailboxDelivery{Kind: r.Kind, Address: r.Address}
	switch r.Kind {
	case "", MailboxMaildir:
		md.Kind = MailboxMaildir
		if r.Address != "" {
			c.add(path+".address", `remove address, or write kind = "lmtp"`, "server %q: mailbox_delivery kind \"maildir\" takes no address", server)
		}
	case MailboxLMTP:
		switch sock, isUnix := strings.CutPrefix(r.Address, "unix:"); {
		case r.Address == "":
			c.add(path, `add address = "127.0.0.1:24" or address = "unix:/run/dovecot/lmtp"`, "server %q: mailbox_delivery kind \"lmtp\" has no address", server)
		case isUnix && sock == "":
			c.add(path+".address", `write "unix:" and the socket's path, e.g. "unix:/run/dovecot/lmtp"`, "server %q: mailbox_delivery address %q has no socket path", server, r.Address)
		case isUnix:
			md.Address = "unix:" + abs(org.Dir, sock)
		default:
			if err := checkHostPort(r.Address); err != nil {
				c.add(path+".address", `write host:port, e.g. "127.0.0.1:24", or "unix:/run/dovecot/lmtp"`, "server %q: mailbox_delivery address: %v", server, err)
			}
		}
	default:
		c.add(path+".kind", `use kind = "maildir" (the default) or kind = "lmtp"`, "server %q: mailbox_delivery has unknown kind %q", server, r.Kind)
	}
	return md
}

// buildDNS checks the resolvers of a server: IP addresses, with a port
// or port 53. They must be addresses: a name would need DNS to be found.
func buildDNS(c *collector, path string, raws []string) []string {
	var out []string
	for i, r := range raws {
		if ap, err := netip.ParseAddrPort(r); err == nil && ap.Port() != 0 {
			out = append(out, ap.String())
			continue
		}
		if a, err := netip.ParseAddr(r); err == nil {
			out = append(out, netip.AddrPortFrom(a, 53).String())
			continue
		}
		c.add(fmt.Sprintf("%s[%d]", path, i), `write the resolver's IP address, with a port if not 53: "127.0.0.1:53", "[::1]:5353"`, "dns: %q is not an IP address or IP:port", r)
	}
	return out
}
