package api_test

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/testcert"
)

// withMailServers adds imap_host and a submission connector on hub-hq to
// the contoso organization (STARTTLS when cert and key are given).
func withMailServers(t *testing.T, imapHost string, tls bool) string {
	text := strings.Replace(orgText(false), "default_domain = \"contoso.test\"\n", "default_domain = \"contoso.test\"\nimap_host = \""+imapHost+"\"\n", 1)
	rc := "  [[server.receive]]\n  name = \"Clients\"\n  listen = \"0.0.0.0:587\"\n  kind = \"submission\"\n"
	if tls {
		cert, key := testcert.New(t, "hub-hq.contoso.test").Files(t)
		rc += "  tls = { cert = \"" + cert + "\", key = \"" + key + "\" }\n"
	}
	return strings.Replace(text, "api = \"127.0.0.1:18025\"\n", "api = \"127.0.0.1:18025\"\nfqdn = \"hub-hq.contoso.test\"\n"+rc, 1)
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Thunderbird's config-v1.1.xml, at both paths, without login: the IMAP
// server of imap_host (993: SSL) and the submission connector.
func TestAutoconfigThunderbird(t *testing.T) {
	e := newEnv(t, withMailServers(t, "imap.contoso.test:993", true), "hub-hq")
	type server struct {
		Type           string `xml:"type,attr"`
		Hostname       string `xml:"hostname"`
		Port           int    `xml:"port"`
		SocketType     string `xml:"socketType"`
		Authentication string `xml:"authentication"`
		Username       string `xml:"username"`
	}
	type clientConfig struct {
		XMLName  xml.Name `xml:"clientConfig"`
		Version  string   `xml:"version,attr"`
		Provider struct {
			ID       string   `xml:"id,attr"`
			Domains  []string `xml:"domain"`
			Incoming []server `xml:"incomingServer"`
			Outgoing []server `xml:"outgoingServer"`
		} `xml:"emailProvider"`
	}
	var doc clientConfig
	for _, path := range []string{"/mail/config-v1.1.xml?emailaddress=alice%40contoso.test", "/.well-known/autoconfig/mail/config-v1.1.xml"} {
		resp := e.do(req{path: path})
		text := body(t, resp)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xml") {
			t.Fatalf("GET %s: %d %s\n%s", path, resp.StatusCode, resp.Header.Get("Content-Type"), text)
		}
		doc = clientConfig{}
		if err := xml.Unmarshal([]byte(text), &doc); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, text)
		}
		p := doc.Provider
		if doc.Version != "1.1" || p.ID != "contoso.test" || len(p.Domains) != 1 || p.Domains[0] != "contoso.test" {
			t.Errorf("GET %s: provider %+v\n%s", path, doc, text)
		}
		wantIn := server{"imap", "imap.contoso.test", 993, "SSL", "password-cleartext", "%EMAILADDRESS%"}
		wantOut := server{"smtp", "hub-hq.contoso.test", 587, "STARTTLS", "password-cleartext", "%EMAILADDRESS%"}
		if len(p.Incoming) != 1 || p.Incoming[0] != wantIn || len(p.Outgoing) != 1 || p.Outgoing[0] != wantOut {
			t.Errorf("GET %s: servers %+v %+v\n%s", path, p.Incoming, p.Outgoing, text)
		}
	}

	// Port 143: STARTTLS; a submission connector without a certificate: plain.
	e.swap(withMailServers(t, "imap.contoso.test:143", false))
	text := body(t, e.do(req{path: "/mail/config-v1.1.xml"}))
	doc = clientConfig{}
	if err := xml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Provider.Incoming[0].SocketType != "STARTTLS" || doc.Provider.Incoming[0].Port != 143 || doc.Provider.Outgoing[0].SocketType != "plain" {
		t.Errorf("after reload: %+v\n%s", doc.Provider, text)
	}

	// Without imap_host there is nothing to configure: a JSON 404 that
	// says what to add.
	e.swap(orgText(false))
	resp := e.do(req{path: "/mail/config-v1.1.xml"})
	if text := body(t, resp); resp.StatusCode != http.StatusNotFound || !strings.Contains(text, "imap_host") {
		t.Errorf("without imap_host: %d %s", resp.StatusCode, text)
	}
}

const adRequestFmt = `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>%s</EMailAddress>
    <AcceptableResponseSchema>%s</AcceptableResponseSchema>
  </Request>
</Autodiscover>`

const outlookSchema = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"

type adProtocol struct {
	Type, Server, LoginName, SSL, Encryption, AuthRequired, SPA string
	Port                                                        int
}

type adDoc struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response struct {
		XMLName xml.Name
		Account struct {
			AccountType, Action string
			Protocol            []adProtocol
		}
		Error struct {
			ErrorCode int
			Message   string
		}
	}
}

func autodiscover(t *testing.T, e *env, address, schema string) (adDoc, string) {
	t.Helper()
	resp := e.do(req{method: http.MethodPost, path: "/autodiscover/autodiscover.xml", body: fmt.Sprintf(adRequestFmt, address, schema), header: map[string]string{"Content-Type": "text/xml"}})
	text := body(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("autodiscover: %d %s", resp.StatusCode, text)
	}
	var doc adDoc
	if err := xml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("autodiscover answer: %v\n%s", err, text)
	}
	return doc, text
}

// Outlook's Autodiscover POX: IMAP and SMTP settings with the address as
// the login name; errors 600 and 601 as Exchange answers them.
func TestAutodiscoverOutlook(t *testing.T) {
	e := newEnv(t, withMailServers(t, "imap.contoso.test:993", true), "hub-hq")
	doc, text := autodiscover(t, e, "a@contoso.test", outlookSchema)
	r := doc.Response
	if r.XMLName.Space != outlookSchema || r.Account.AccountType != "email" || r.Account.Action != "settings" || len(r.Account.Protocol) != 2 {
		t.Fatalf("response:\n%s", text)
	}
	imap, smtp := r.Account.Protocol[0], r.Account.Protocol[1]
	if imap != (adProtocol{Type: "IMAP", Server: "imap.contoso.test", Port: 993, LoginName: "a@contoso.test", SSL: "on", AuthRequired: "on", SPA: "off"}) {
		t.Errorf("IMAP: %+v", imap)
	}
	if smtp != (adProtocol{Type: "SMTP", Server: "hub-hq.contoso.test", Port: 587, LoginName: "a@contoso.test", SSL: "on", Encryption: "TLS", AuthRequired: "on", SPA: "off"}) {
		t.Errorf("SMTP: %+v", smtp)
	}
	// Markup in the address is escaped, never echoed raw.
	doc, text = autodiscover(t, e, "a&amp;&lt;b&gt;@contoso.test", outlookSchema)
	if p := doc.Response.Account.Protocol; len(p) != 2 || p[0].LoginName != "a&<b>@contoso.test" || !strings.Contains(text, "a&amp;&lt;b&gt;@contoso.test") {
		t.Errorf("an address with markup:\n%s", text)
	}
	for _, tc := range []struct {
		address, schema string
		code            int
	}{
		{"someone@fabrikam.test", outlookSchema, 600},
		{"", outlookSchema, 600},
		{"a@contoso.test", "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006", 601},
	} {
		doc, text := autodiscover(t, e, tc.address, tc.schema)
		if doc.Response.Error.ErrorCode != tc.code || len(doc.Response.Account.Protocol) != 0 {
			t.Errorf("%q %q: want error %d:\n%s", tc.address, tc.schema, tc.code, text)
		}
	}
	resp := e.do(req{method: http.MethodPost, path: "/autodiscover/autodiscover.xml", body: "<not xml"})
	if text := body(t, resp); !strings.Contains(text, "<ErrorCode>600</ErrorCode>") {
		t.Errorf("malformed request: %s", text)
	}
	e.swap(orgText(false))
	if doc, text := autodiscover(t, e, "a@contoso.test", outlookSchema); doc.Response.Error.ErrorCode != 601 {
		t.Errorf("without imap_host: %s", text)
	}
}
