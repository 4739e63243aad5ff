package api

import (
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/waypost/waypost/internal/config"
)

// Mail client autoconfiguration, without login: Thunderbird's autoconfig
// file (clientConfig version 1.1, as Thunderbird's ISPDB and
// wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat
// describe it; K-9 and others read it too) and Outlook's Autodiscover POX
// answer (MS-OXDSCLI: the "outlook" response schema 2006a, with IMAP and
// SMTP Protocol elements as for a POP/IMAP account). Both name the
// organization's IMAP server ([organization] imap_host; Dovecot, which
// Waypost does not know of itself) and this hub's first submission
// receive connector (its FQDN and port; STARTTLS when the connector has a
// certificate). The user name is the e-mail address: any SMTP address of
// a mailbox logs in (waypost checkpassword, SMTP AUTH).

// AutoconfigPaths are the paths of Thunderbird's autoconfig file: the
// first on autoconfig.DOMAIN, the second on the domain's own web server.
var AutoconfigPaths = []string{"/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml"}

// AutodiscoverPath is the path of Outlook's Autodiscover POX service.
const AutodiscoverPath = "/autodiscover/autodiscover.xml"

// The Autodiscover namespaces (MS-OXDSCLI section 2.2.4).
const (
	adResponseNS        = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	adOutlookResponseNS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)

// mailSettings are the servers a mail client needs.
type mailSettings struct {
	imapHost     string
	imapPort     int
	imapSSL      bool // implicit TLS (port 993); else STARTTLS
	smtpHost     string
	smtpPort     int
	smtpSTARTTLS bool
	domains      []string // accepted domains, for Thunderbird's <domain>
}

// settings builds the mail settings from the organization in force, or
// returns why there are none.
func (s *Server) settings() (*mailSettings, string) {
	org := s.cfg.Engine().Org()
	if org.IMAPHost == "" {
		return nil, "no IMAP server is configured: add [organization] imap_host to the organization file"
	}
	host, port, _ := net.SplitHostPort(org.IMAPHost)
	ms := &mailSettings{imapHost: host}
	ms.imapPort, _ = strconv.Atoi(port)
	ms.imapSSL = ms.imapPort == 993
	if srv := org.Server(s.cfg.Server); srv != nil {
		for _, rc := range srv.Receive {
			if rc.Kind != config.KindSubmission {
				continue
			}
			_, p, _ := net.SplitHostPort(rc.Listen)
			ms.smtpHost = srv.FQDN
			ms.smtpPort, _ = strconv.Atoi(p)
			ms.smtpSTARTTLS = rc.TLSCert != ""
			break
		}
	}
	for _, d := range org.AcceptedDomains {
		if !strings.HasPrefix(d.Domain, "*") {
			ms.domains = append(ms.domains, d.Domain)
		}
	}
	return ms, ""
}

// Thunderbird's clientConfig.
type tbConfig struct {
	XMLName  xml.Name   `xml:"clientConfig"`
	Version  string     `xml:"version,attr"`
	Provider tbProvider `xml:"emailProvider"`
}

type tbProvider struct {
	ID               string     `xml:"id,attr"`
	Domains          []string   `xml:"domain"`
	DisplayName      string     `xml:"displayName"`
	DisplayShortName string     `xml:"displayShortName"`
	Incoming         tbServer   `xml:"incomingServer"`
	Outgoing         []tbServer `xml:"outgoingServer"`
}

type tbServer struct {
	Type           string `xml:"type,attr"`
	Hostname       string `xml:"hostname"`
	Port           int    `xml:"port"`
	SocketType     string `xml:"socketType"`
	Authentication string `xml:"authentication"`
	Username       string `xml:"username"`
}

// autoconfig answers Thunderbird's GET of config-v1.1.xml (an optional
// emailaddress parameter is not needed: the user name is the address the
// client was given, %EMAILADDRESS%).
func (s *Server) autoconfig(w http.ResponseWriter, r *http.Request) {
	ms, why := s.settings()
	if ms == nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "%s", why)
		return
	}
	org := s.cfg.Engine().Org()
	name := org.Name
	if name == "" {
		name = org.DefaultDomain
	}
	c := tbConfig{Version: "1.1", Provider: tbProvider{ID: org.DefaultDomain, Domains: ms.domains, DisplayName: name, DisplayShortName: name,
		Incoming: tbServer{Type: "imap", Hostname: ms.imapHost, Port: ms.imapPort, SocketType: "STARTTLS",
			Authentication: "password-cleartext", Username: "%EMAILADDRESS%"}}}
	if ms.imapSSL {
		c.Provider.Incoming.SocketType = "SSL"
	}
	if ms.smtpHost != "" {
		out := tbServer{Type: "smtp", Hostname: ms.smtpHost, Port: ms.smtpPort, SocketType: "plain",
			Authentication: "password-cleartext", Username: "%EMAILADDRESS%"}
		if ms.smtpSTARTTLS {
			out.SocketType = "STARTTLS"
		}
		c.Provider.Outgoing = append(c.Provider.Outgoing, out)
	}
	writeXML(w, http.StatusOK, c)
}

// Outlook's Autodiscover request and response (POX).
type adRequest struct {
	XMLName xml.Name `xml:"Autodiscover"`
	Request struct {
		EMailAddress             string
		AcceptableResponseSchema string
	}
}

type adResponse struct {
	XMLName  xml.Name `xml:"Autodiscover"`
	NS       string   `xml:"xmlns,attr"`
	Response any
}

type adOutlook struct {
	XMLName xml.Name `xml:"Response"`
	NS      string   `xml:"xmlns,attr"`
	Account adAccount
}

type adAccount struct {
	AccountType string
	Action      string
	Protocol    []adProtocol
}

type adProtocol struct {
	Type           string
	Server         string
	Port           int
	DomainRequired string
	LoginName      string
	SPA            string
	SSL            string
	Encryption     string `xml:",omitempty"`
	AuthRequired   string
}

type adErrorResponse struct {
	XMLName xml.Name `xml:"Response"`
	Error   adError
}

type adError struct {
	Time      string `xml:",attr"`
	ID        string `xml:"Id,attr"`
	ErrorCode int
	Message   string
	DebugData string
}

// autodiscover answers Outlook's POST of an Autodiscover request: the IMAP
// and SMTP settings for the address asked about, in the outlook response
// schema; an Autodiscover error 600 (invalid request) for a malformed
// request or an address outside the accepted domains, 601 (provider
// unavailable) for another response schema (such as mobilesync) or when
// no IMAP server is configured.
func (s *Server) autodiscover(w http.ResponseWriter, r *http.Request) {
	var req adRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err == nil {
		err = xml.Unmarshal(body, &req)
	}
	addr := strings.TrimSpace(req.Request.EMailAddress)
	if err != nil || addr == "" {
		s.adError(w, 600, "Invalid Request")
		return
	}
	if req.Request.AcceptableResponseSchema != adOutlookResponseNS {
		s.adError(w, 601, "Provider is not available")
		return
	}
	ms, why := s.settings()
	if ms == nil {
		s.log.Warn("api: autodiscover asked, and "+why, "address", addr)
		s.adError(w, 601, "Provider is not available")
		return
	}
	_, domain, ok := strings.Cut(addr, "@")
	if !ok || !s.acceptedDomain(strings.ToLower(domain)) {
		s.adError(w, 600, "Invalid Request")
		return
	}
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	imap := adProtocol{Type: "IMAP", Server: ms.imapHost, Port: ms.imapPort, DomainRequired: "off", LoginName: addr, SPA: "off",
		SSL: "on", AuthRequired: "on"}
	if !ms.imapSSL {
		imap.Encryption = "TLS"
	}
	acct := adAccount{AccountType: "email", Action: "settings", Protocol: []adProtocol{imap}}
	if ms.smtpHost != "" {
		acct.Protocol = append(acct.Protocol, adProtocol{Type: "SMTP", Server: ms.smtpHost, Port: ms.smtpPort, DomainRequired: "off",
			LoginName: addr, SPA: "off", SSL: onOff(ms.smtpSTARTTLS), Encryption: map[bool]string{true: "TLS", false: "None"}[ms.smtpSTARTTLS],
			AuthRequired: "on"})
	}
	writeXML(w, http.StatusOK, adResponse{NS: adResponseNS, Response: adOutlook{NS: adOutlookResponseNS, Account: acct}})
}

// acceptedDomain reports whether domain is an accepted domain of the
// organization (or under a "*." one).
func (s *Server) acceptedDomain(domain string) bool {
	for _, d := range s.cfg.Engine().Org().AcceptedDomains {
		if d.Domain == domain || (strings.HasPrefix(d.Domain, "*.") && strings.HasSuffix(domain, d.Domain[1:])) {
			return true
		}
	}
	return false
}

// adError writes an Autodiscover error response (MS-OXDSCLI section
// 2.2.4.2.1: codes 600 and 601).
func (s *Server) adError(w http.ResponseWriter, code int, msg string) {
	writeXML(w, http.StatusOK, adResponse{NS: adResponseNS, Response: adErrorResponse{Error: adError{
		Time: s.cfg.Now().UTC().Format(time.TimeOnly), ID: strconv.Itoa(code), ErrorCode: code, Message: msg}}})
}

// writeXML writes v as an XML document.
func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		writeError(w, http.StatusInternalServerError, CodeInternal, "encoding XML: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, xml.Header)
	w.Write(b)
	io.WriteString(w, "\n")
}
