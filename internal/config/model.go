package config

import (
	"net/netip"
	"time"

	"github.com/waypost/waypost/internal/addrspace"
	"github.com/waypost/waypost/internal/directory"
)

// Org is a loaded, validated organization. Slices keep the file's order.
type Org struct {
	File string // path the organization was read from ("" for the built-in default)
	Dir  string // folder that relative paths are resolved against

	Name              string
	DefaultDomain     string
	MaxHopCount       int
	MessageExpiration time.Duration
	DelayNotification time.Duration
	HubSecretFile     string // absolute; "" when not set
	IMAPHost          string // host:port of the organization's IMAP server (Dovecot), for client autoconfiguration; "" when not set
	Retry             Retry
	// ShadowHeartbeatTimeout is how long a hub keeping shadows waits for
	// an answer of the hub holding their primaries before it delivers
	// them itself (docs/design/shadow.md).
	ShadowHeartbeatTimeout time.Duration
	// ShadowOnReceive is ShadowOff, ShadowBestEffort or ShadowRequired: a
	// shadow copy on another hub of the site before the 250.
	ShadowOnReceive string
	// GlitchRetryInterval is how long a hub that did not answer a
	// connection is left out of the load sharing among equivalent hubs
	// (Exchange 2010's glitch retry interval; docs/operations.md, "Load
	// sharing among hubs"), and how long a send connector's queue whose
	// host did not answer stays in retry ("A next hop in retry").
	GlitchRetryInterval time.Duration
	// Administrators name the recipients who may use the web console
	// (docs/operations.md, "Console"): a mailbox's name or one of its SMTP
	// addresses, as written in the file.
	Administrators []string

	Sites           []*Site
	SiteLinks       []*SiteLink
	Servers         []*Server
	AcceptedDomains []*AcceptedDomain
	SendConnectors  []*SendConnector
	Recipients      []*directory.Entry
	Directory       Directory // where recipients beyond Recipients live

	sites   map[string]*Site   // by folded name
	servers map[string]*Server // by folded name
	domains map[string]*AcceptedDomain
}

// Retry is the retry schedule of the queue (Exchange 2007 Hub defaults,
// exchange-semantics.md section 5.3).
type Retry struct {
	GlitchCount       int
	GlitchInterval    time.Duration
	TransientCount    int
	TransientInterval time.Duration
	OutboundInterval  time.Duration
}

// Site is an Active Directory site in Exchange terms: a group of servers.
type Site struct {
	Name    string
	HubSite bool // mail whose least-cost path crosses this site is relayed through it
}

// SiteLink joins two sites at a cost.
type SiteLink struct {
	Name  string
	Sites [2]string
	Cost  int
}

// Server is one hub process.
type Server struct {
	Name    string
	Site    string
	FQDN    string
	DataDir string // absolute
	Relay   string // host:port of the hub-to-hub listener, "" for none
	// RelayTLSCert and RelayTLSKey are the relay listener's certificate
	// and key (relay_tls, absolute paths); "": a self-signed one that the
	// hub makes at first start in DataDir. Hubs do not check it against a
	// CA: the hub secret pins the channel (package hubauth).
	RelayTLSCert string
	RelayTLSKey  string
	API          string // host:port of the HTTP API, "" for none
	// DNS are the resolvers this hub asks, "ip:port", in order (MX records
	// of send connectors without smart hosts); none: the system's
	// (resolv.conf).
	DNS []string
	// DNSTrusted says the administrator declared the resolvers DNSSEC-
	// validating and reached over a trusted path ([[server]]
	// dns_trusted): only then does their AD bit make an answer secure,
	// for DANE (RFC 7672 section 2.1.1).
	DNSTrusted bool
	// QueueSync is how the queue makes each accepted message durable
	// before its 250 ([[server]] queue_sync; docs/operations.md, "How the
	// queue makes a message durable"): "file", an fdatasync of the message's file and a
	// folder fsync shared by the messages that finish together (Postfix's
	// way); "filesystem", one syncfs(2) of the queue's file system shared
	// by all of them, and again after their renames; "auto" (the
	// default), "filesystem" on Linux 5.8 or later on ext4, XFS, Btrfs,
	// F2FS or tmpfs, else "file".
	QueueSync string
	Receive   []*ReceiveConnector
	// MailboxDelivery is how the mailboxes of this server are delivered:
	// Maildir folders in the data folder (the default) or LMTP to a mail
	// store such as Dovecot (RFC 2033).
	MailboxDelivery MailboxDelivery
}

// Mailbox delivery kinds.
const (
	MailboxMaildir = "maildir"
	MailboxLMTP    = "lmtp"
)

// MailboxDelivery is a server's mailbox_delivery.
type MailboxDelivery struct {
	Kind    string // MailboxMaildir or MailboxLMTP
	Address string // for LMTP: host:port, or "unix:" and a socket path
}

// Receive connector kinds.
const (
	KindSMTP       = "smtp"
	KindSubmission = "submission"
)

// sender_auth modes of a receive connector: the inbound SPF, DKIM and
// DMARC checks (package senderauth). tag adds an Authentication-Results
// field and refuses nothing (the default of kind smtp); enforce also
// refuses what a DMARC p=reject policy rejects (550 5.7.1) and what could
// not be checked in time (451 4.7.1); off checks nothing (the default of
// kind submission).
const (
	SenderAuthTag     = "tag"
	SenderAuthEnforce = "enforce"
	SenderAuthOff     = "off"
)

// ReceiveConnector is an SMTP listener of a server.
type ReceiveConnector struct {
	Name           string
	Listen         string
	Kind           string // KindSMTP or KindSubmission
	RemoteRanges   []netip.Prefix
	RelayRanges    []netip.Prefix // clients that may relay without AUTH (Postfix's mynetworks)
	MaxMessageSize int64
	MaxRecipients  int
	MaxLineLength  int
	CommandTimeout time.Duration
	DataTimeout    time.Duration
	MaxErrors      int
	MaxHopCount    int
	TLSCert        string // absolute; "" without STARTTLS
	TLSKey         string
	SenderAuth     string // SenderAuthTag, SenderAuthEnforce or SenderAuthOff (RFC 7208, 6376, 7489 checks)

	// Limits against abuse; 0 turns a limit off (build_receive_limits.go).
	BareLFRanges         []netip.Prefix // clients whose bare LF line ends in DATA are made CRLF
	MaxHeaderSize        int64          // bytes of the header section the client sends
	MinFreeSpace         int64          // free bytes the queue's file system needs at MAIL, besides 1.5 x the size
	MaxConnections       int            // concurrent connections to the connector
	MaxConnectionsPerIP  int            // concurrent connections from one address (an IPv6 /64)
	MinDataRate          int            // bytes per second a DATA or BDAT must keep up, after data_timeout's grace
	MaxAuthFailuresPerIP int            // failed AUTH from one address within AuthFailureWindow before a lockout
	AuthFailureWindow    time.Duration
	AuthLockout          time.Duration
}

// Accepted domain types (Exchange: authoritative, internal relay, external relay).
const (
	Authoritative = "authoritative"
	InternalRelay = "internal_relay"
	ExternalRelay = "external_relay"
)

// AcceptedDomain is a domain the organization receives mail for.
type AcceptedDomain struct {
	Domain string // lower case
	Type   string
	DKIM   []DKIMKey // keys that sign mail from the domain as it leaves (RFC 6376); each signs
}

// DKIMKey is one DKIM signing key of an accepted domain (build_dkim.go);
// CheckFiles reads the key, DKIMKeys loads it.
type DKIMKey struct {
	Selector string
	KeyFile  string // absolute
}

// SendConnector routes the recipients of its address spaces out of the
// organization through one delivery agent.
type SendConnector struct {
	Name           string
	AddressSpaces  []addrspace.Space
	SourceServers  []string
	Scoped         bool
	Enabled        bool
	MaxMessageSize int64 // 0: unlimited
	Delivery       Delivery
}

// Delivery kinds of a send connector (interfaces.md section 1, table).
const (
	DeliverySMTP    = "smtp"
	DeliveryDrop    = "drop"
	DeliveryPipe    = "pipe"
	DeliveryWebhook = "webhook"
)

// Delivery says how a send connector hands a message on.
type Delivery struct {
	Kind string

	// smtp
	SmartHosts    []string
	AuthUsername  string
	AuthPassword  string // file, absolute
	TLS           string // opportunistic | required | none | dane | mta-sts
	Encapsulation string // imcea | rfc3192

	// drop
	Directory string // absolute
	Pickup    string // absolute; "" for none

	// pipe
	Command []string
	Timeout time.Duration

	// webhook
	URL       string
	TokenFile string // absolute
	Format    string // json | multipart
}

// Site returns the site named name (case-insensitive), or nil.
func (o *Org) Site(name string) *Site { return o.sites[fold(name)] }

// Server returns the server named name (case-insensitive), or nil.
func (o *Org) Server(name string) *Server { return o.servers[fold(name)] }

// AcceptedDomain returns the accepted domain entry for domain, or nil.
func (o *Org) AcceptedDomain(domain string) *AcceptedDomain { return o.domains[fold(domain)] }

// IsAuthoritative reports whether domain is an authoritative accepted domain:
// the organization holds every mailbox there, and encapsulated addresses
// (IMCEA, RFC 3192) at it are decapsulated.
func (o *Org) IsAuthoritative(domain string) bool {
	d := o.AcceptedDomain(domain)
	return d != nil && d.Type == Authoritative
}

// ServersInSite returns the servers of a site in file order.
func (o *Org) ServersInSite(site string) []*Server {
	var out []*Server
	for _, s := range o.Servers {
		if fold(s.Site) == fold(site) {
			out = append(out, s)
		}
	}
	return out
}
