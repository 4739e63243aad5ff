package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/waypost/waypost/internal/dkim"
)

// buildDKIM checks the dkim key of an accepted domain: one inline table
// { selector = "s2026", key_file = "dkim/corp.test.s2026.pem" } or a list
// of them (key rotation: each signs). CheckFiles reads the keys
// (checkDKIMFiles), so that `waypost check` and the start find an
// unreadable or weak key (RSA under 2048 bits, RFC 8301) before any mail
// goes out unsigned.
func buildDKIM(c *collector, org *Org, path, domain string, v any) []DKIMKey {
	var tables []any
	switch v := v.(type) {
	case nil:
		return nil
	case map[string]any:
		tables = []any{v}
	case []any:
		tables = v
	default:
		c.add(path, `write dkim = { selector = "s2026", key_file = "dkim/`+domain+`.s2026.pem" } or a list of such tables`, "dkim of %s is a %s", domain, tomlKind(v))
		return nil
	}
	var keys []DKIMKey
	for i, t := range tables {
		p := path
		if _, list := v.([]any); list {
			p = fmt.Sprintf("%s[%d]", path, i)
		}
		m, ok := t.(map[string]any)
		if !ok {
			c.add(p, `write { selector = "s2026", key_file = "dkim/`+domain+`.s2026.pem" }`, "dkim of %s: an entry is a %s, not a table", domain, tomlKind(t))
			continue
		}
		if k, ok := dkimKey(c, org, p, domain, m); ok {
			if slices.ContainsFunc(keys, func(o DKIMKey) bool { return strings.EqualFold(o.Selector, k.Selector) }) {
				c.add(p+".selector", "give each key its own selector", "dkim of %s lists selector %q twice", domain, k.Selector)
				continue
			}
			keys = append(keys, k)
		}
	}
	return keys
}

func dkimKey(c *collector, org *Org, path, domain string, m map[string]any) (DKIMKey, bool) {
	for k := range m {
		if k != "selector" && k != "key_file" {
			c.add(path+"."+k, "dkim takes selector and key_file only", "dkim of %s has unknown key %q", domain, k)
			return DKIMKey{}, false
		}
	}
	sel, _ := m["selector"].(string)
	file, _ := m["key_file"].(string)
	if err := dkim.CheckSelector(sel); err != nil {
		c.add(path+".selector", `write selector = "s2026": letters, digits and hyphens`, "dkim of %s: %v", domain, err)
		return DKIMKey{}, false
	}
	if file == "" {
		c.add(path, fmt.Sprintf(`add key_file = "dkim/%s.%s.pem" (run "waypost dkim keygen --domain %s --selector %s --out dkim/%s.%s.pem")`, domain, sel, domain, sel, domain, sel), "dkim of %s has no key_file", domain)
		return DKIMKey{}, false
	}
	return DKIMKey{Selector: sel, KeyFile: abs(org.Dir, file)}, true
}

// checkDKIMFiles is CheckFiles for the DKIM keys: each must be readable
// and usable (dkim.LoadKey).
func checkDKIMFiles(c *collector, org *Org) {
	for i, ad := range org.AcceptedDomains {
		for j, k := range ad.DKIM {
			path := fmt.Sprintf("accepted_domain[%d].dkim", i)
			if len(ad.DKIM) > 1 || c.pos.has(path+"[0]") {
				path = fmt.Sprintf("%s[%d]", path, j)
			}
			if _, err := dkim.LoadKey(k.KeyFile); err != nil {
				c.add(path+".key_file", fmt.Sprintf(`run "waypost dkim keygen --domain %s --selector %s --out %s" and publish the DNS record it prints`, ad.Domain, k.Selector, k.KeyFile), "dkim of %s: %v", ad.Domain, err)
			}
		}
	}
}

// DKIMKeys reads the DKIM keys of every accepted domain, for the SMTP
// agent; the first unusable key is an error that names it.
func DKIMKeys(org *Org) ([]dkim.Key, error) {
	var keys []dkim.Key
	for _, ad := range org.AcceptedDomains {
		for _, k := range ad.DKIM {
			signer, err := dkim.LoadKey(k.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("dkim of %s, selector %s: %w", ad.Domain, k.Selector, err)
			}
			keys = append(keys, dkim.Key{Domain: ad.Domain, Selector: k.Selector, Signer: signer})
		}
	}
	return keys, nil
}

func tomlKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64, float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "list"
	default:
		return fmt.Sprintf("%T", v)
	}
}
