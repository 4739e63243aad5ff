package config

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"time"
)

// Defaults (Exchange 2007 Hub values where Exchange has one;
// exchange-semantics.md sections 5.3 and 5.4).
const (
	DefaultMaxHopCount       = 30
	DefaultMessageExpiration = 48 * time.Hour
	DefaultDelayNotification = 4 * time.Hour
	DefaultMaxMessageSize    = 35 * 1000 * 1000
	DefaultMaxRecipients     = 200
	DefaultMaxLineLength     = 2048
	DefaultCommandTimeout    = 5 * time.Minute // RFC 5321 section 4.5.3.2.7
	DefaultDataTimeout       = 10 * time.Minute
	DefaultMaxErrors         = 10
	DefaultSiteLinkCost      = 100 // Active Directory's default site link cost
	DefaultPipeTimeout       = time.Minute
	// DefaultGlitchRetryInterval is Exchange 2010's: a hub that failed to
	// connect is skipped for a minute.
	DefaultGlitchRetryInterval = time.Minute
)

// DefaultRetry is Exchange 2007's Hub retry schedule: 4 x 1m, 6 x 5m, then every 10m.
var DefaultRetry = Retry{GlitchCount: 4, GlitchInterval: time.Minute, TransientCount: 6, TransientInterval: 5 * time.Minute, OutboundInterval: 10 * time.Minute}

// build turns the raw file into an Org, reporting every problem to c.
func build(c *collector, raw *rawFile, dir string) *Org {
	org := &Org{Dir: dir, sites: map[string]*Site{}, servers: map[string]*Server{}, domains: map[string]*AcceptedDomain{}}
	buildOrganization(c, org, &raw.Organization)
	buildSites(c, org, raw.Site)
	buildSiteLinks(c, org, raw.SiteLink)
	buildAcceptedDomains(c, org, raw.AcceptedDomain)
	buildServers(c, org, raw.Server)
	buildSendConnectors(c, org, raw.SendConnector)
	buildRecipients(c, org, raw.Recipient)
	buildDirectory(c, org, &raw.Directory)
	checkOrganization(c, org)
	return org
}

func buildOrganization(c *collector, org *Org, r *rawOrganization) {
	org.Name = r.Name
	if org.Name == "" {
		org.Name = "Waypost"
	}
	org.DefaultDomain = strings.ToLower(strings.TrimSpace(r.DefaultDomain))
	if org.DefaultDomain == "" {
		c.add("organization", `add default_domain = "example.test" to [organization]`, "[organization] has no default_domain")
	} else if err := checkDomain(org.DefaultDomain); err != nil {
		c.add("organization.default_domain", "write a domain name such as contoso.test", "default_domain: %v", err)
	}
	org.MaxHopCount = intOr(r.MaxHopCount, DefaultMaxHopCount)
	if org.MaxHopCount < 1 || org.MaxHopCount > 500 {
		c.add("organization.max_hop_count", "use a number from 1 to 500 (default 30)", "max_hop_count %d is out of range", org.MaxHopCount)
	}
	org.MessageExpiration = durationOr(c, "organization.message_expiration", r.MessageExpiration, DefaultMessageExpiration, 5*time.Second, 90*24*time.Hour)
	org.DelayNotification = durationOr(c, "organization.delay_notification", r.DelayNotification, DefaultDelayNotification, time.Second, 30*24*time.Hour)
	org.GlitchRetryInterval = durationOr(c, "organization.glitch_retry_interval", r.GlitchRetryInterval, DefaultGlitchRetryInterval, time.Second, time.Hour)
	org.Administrators = r.Administrators
	if r.HubSecretFile != "" {
		org.HubSecretFile = abs(org.Dir, r.HubSecretFile)
	}
	if r.IMAPHost != "" {
		if err := checkHostPort(r.IMAPHost); err != nil {
			c.add("organization.imap_host", `write the IMAP server's host:port, e.g. imap_host = "imap.contoso.test:993"`, "imap_host: %v", err)
		} else {
			org.IMAPHost = r.IMAPHost
		}
	}
	buildShadow(c, org, r)
	rt := &r.Retry
	org.Retry = Retry{
		GlitchCount:       intOr(rt.GlitchCount, DefaultRetry.GlitchCount),
		GlitchInterval:    durationOr(c, "organization.retry.glitch_interval", rt.GlitchInterval, DefaultRetry.GlitchInterval, time.Second, 12*time.Hour),
		TransientCount:    intOr(rt.TransientCount, DefaultRetry.TransientCount),
		TransientInterval: durationOr(c, "organization.retry.transient_interval", rt.TransientInterval, DefaultRetry.TransientInterval, time.Second, 12*time.Hour),
		OutboundInterval:  durationOr(c, "organization.retry.outbound_interval", rt.OutboundInterval, DefaultRetry.OutboundInterval, time.Second, 24*time.Hour),
	}
	if org.Retry.GlitchCount < 0 || org.Retry.GlitchCount > 15 {
		c.add("organization.retry.glitch_count", "use 0 to 15 (default 4)", "retry glitch_count %d is out of range", org.Retry.GlitchCount)
	}
	if org.Retry.TransientCount < 0 || org.Retry.TransientCount > 15 {
		c.add("organization.retry.transient_count", "use 0 to 15 (default 6)", "retry transient_count %d is out of range", org.Retry.TransientCount)
	}
}

func buildSites(c *collector, org *Org, raws []rawSite) {
	if len(raws) == 0 {
		c.add("", `add a site: [[site]] name = "HQ"`, "the organization has no [[site]]")
	}
	for i, r := range raws {
		path := fmt.Sprintf("site[%d]", i)
		if !checkName(c, path, "site", r.Name) {
			continue
		}
		if prev := org.sites[fold(r.Name)]; prev != nil {
			c.add(path+".name", "give each site its own name", "site %q is defined twice", r.Name)
			continue
		}
		s := &Site{Name: r.Name, HubSite: r.HubSite}
		org.Sites = append(org.Sites, s)
		org.sites[fold(r.Name)] = s
	}
}

func buildSiteLinks(c *collector, org *Org, raws []rawSiteLink) {
	names := map[string]bool{}
	pairs := map[string]string{}
	for i, r := range raws {
		path := fmt.Sprintf("site_link[%d]", i)
		if !checkName(c, path, "site link", r.Name) {
			continue
		}
		if names[fold(r.Name)] {
			c.add(path+".name", "give each site link its own name", "site link %q is defined twice", r.Name)
			continue
		}
		names[fold(r.Name)] = true
		ok := true
		if len(r.Sites) != 2 {
			c.add(path+".sites", `list exactly two sites, e.g. sites = ["HQ", "Branch"]`, "site link %q joins %d sites; a link joins exactly two", r.Name, len(r.Sites))
			ok = false
		}
		for j, s := range r.Sites {
			if org.Site(s) == nil {
				c.add(fmt.Sprintf("%s.sites[%d]", path, j), "define the site with [[site]] or correct the name ("+siteNames(org)+")", "site link %q names unknown site %q", r.Name, s)
				ok = false
			}
		}
		if ok && fold(r.Sites[0]) == fold(r.Sites[1]) {
			c.add(path+".sites", "name two different sites", "site link %q joins site %q to itself", r.Name, r.Sites[0])
			ok = false
		}
		cost := intOr(r.Cost, DefaultSiteLinkCost)
		if cost < 1 || cost > 100000 {
			c.add(path+".cost", "use a cost from 1 to 100000", "site link %q has cost %d", r.Name, cost)
			ok = false
		}
		if !ok {
			continue
		}
		a, b := org.Site(r.Sites[0]).Name, org.Site(r.Sites[1]).Name
		key := fold(min(a, b)) + "\x00" + fold(max(a, b))
		if prev, dup := pairs[key]; dup {
			c.add(path, "keep one link per pair of sites", "site link %q joins the same sites as %q", r.Name, prev)
			continue
		}
		pairs[key] = r.Name
		org.SiteLinks = append(org.SiteLinks, &SiteLink{Name: r.Name, Sites: [2]string{a, b}, Cost: cost})
	}
}

func buildAcceptedDomains(c *collector, org *Org, raws []rawAcceptedDomain) {
	for i, r := range raws {
		path := fmt.Sprintf("accepted_domain[%d]", i)
		d := strings.ToLower(strings.TrimSpace(r.Domain))
		if err := checkDomain(d); err != nil {
			c.add(path+".domain", "write a domain name such as contoso.test", "accepted domain: %v", err)
			continue
		}
		typ := r.Type
		if typ == "" {
			typ = Authoritative
		}
		switch typ {
		case Authoritative, InternalRelay, ExternalRelay:
		default:
			c.add(path+".type", "use authoritative, internal_relay or external_relay", "accepted domain %s has unknown type %q", d, r.Type)
			continue
		}
		if org.domains[d] != nil {
			c.add(path+".domain", "list each accepted domain once", "accepted domain %s is listed twice", d)
			continue
		}
		ad := &AcceptedDomain{Domain: d, Type: typ, DKIM: buildDKIM(c, org, path+".dkim", d, r.DKIM)}
		org.AcceptedDomains = append(org.AcceptedDomains, ad)
		org.domains[d] = ad
	}
}

// checkOrganization checks what needs every section loaded.
func checkOrganization(c *collector, org *Org) {
	if org.DefaultDomain != "" && checkDomain(org.DefaultDomain) == nil {
		if d := org.AcceptedDomain(org.DefaultDomain); d == nil || d.Type != Authoritative {
			c.add("organization.default_domain", fmt.Sprintf("add [[accepted_domain]] domain = %q type = \"authoritative\"", org.DefaultDomain), "default_domain %s is not an authoritative accepted domain", org.DefaultDomain)
		}
	}
	checkAdministrators(c, org)
	checkShadow(c, org)
	if len(org.Servers) > 1 && org.HubSecretFile == "" {
		c.add("organization", `run "waypost secret > hub.secret" and add hub_secret_file = "hub.secret" to [organization]`, "an organization with %d servers needs hub_secret_file, so hubs can prove they belong to it", len(org.Servers))
	}
}

func checkName(c *collector, path, what, name string) bool {
	if strings.TrimSpace(name) == "" {
		c.add(path, "add name = \"...\"", "%s has no name", what)
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			c.add(path+".name", "use printable characters only", "%s name %q has a control character", what, name)
			return false
		}
	}
	return true
}

func checkDomain(d string) error {
	if d == "" {
		return fmt.Errorf("the domain is empty")
	}
	if len(d) > 255 {
		return fmt.Errorf("domain %q is longer than 255 characters", d)
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("domain %q has an empty or over-long label", d)
		}
		for i, r := range label {
			ok := r == '-' && i > 0 && i < len(label)-1 || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f
			if !ok {
				return fmt.Errorf("domain %q has %q at a place where a domain cannot", d, r)
			}
		}
	}
	return nil
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if host == "" {
		return fmt.Errorf("%q has no host; write 127.0.0.1:%s or [::]:%s", s, port, port)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%q has a bad port", s)
	}
	return nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an address nor a CIDR range", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func siteNames(org *Org) string {
	names := make([]string, len(org.Sites))
	for i, s := range org.Sites {
		names[i] = s.Name
	}
	if len(names) == 0 {
		return "no sites are defined"
	}
	return "sites: " + strings.Join(names, ", ")
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func durationOr(c *collector, path, s string, def, min, max time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := parseDuration(s, min, max)
	if err != nil {
		c.add(path, fmt.Sprintf(`write a Go duration between %s and %s, such as "90s", "4h" or "48h"`, min, max), "%v", err)
		return def
	}
	return d
}

func abs(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func fold(s string) string { return strings.ToLower(s) }
