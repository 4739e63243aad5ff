package config

import "time"

// Directory backends (interfaces.md section 1, [directory]).
const (
	BackendFile     = "file"     // only the [[recipient]] entries of the organization file
	BackendEmbedded = "embedded" // an indexed store in each hub's data folder
	BackendLDAP     = "ldap"     // an LDAP server or Active Directory
)

// LDAP schemas: which attribute names are the defaults.
const (
	SchemaActiveDirectory = "active_directory"
	SchemaOpenLDAP        = "openldap"
)

// Directory says where recipients live. The [[recipient]] entries of the
// file always count, in front of the backend.
type Directory struct {
	Backend string // BackendFile, BackendEmbedded or BackendLDAP
	LDAP    *LDAP  // with BackendLDAP
}

// LDAP is how to reach and read an LDAP directory.
type LDAP struct {
	URL              string // ldap://host:port or ldaps://host:port
	StartTLS         bool
	CAFile           string // absolute; "" for the system's roots
	ServerName       string // TLS server name; "" for the URL's host
	BindDN           string // the service account; "" binds anonymously
	BindPasswordFile string // absolute
	BaseDN           string
	Schema           string
	Filter           string // an extra filter every search is ANDed with, "" for none
	PoolSize         int
	Timeout          time.Duration
	Cache            time.Duration // how long a found entry is kept
	NegativeCache    time.Duration // how long "not found" is kept
	Attributes       LDAPAttributes
}

// LDAPAttributes maps directory attributes to what Waypost reads.
type LDAPAttributes struct {
	ProxyAddresses string // multi-valued TYPE:address, upper-case type = primary
	Mail           string // the primary SMTP address when no proxy says otherwise
	Target         string // a contact's target address
	HomeServer     string // a mailbox's home server: a server name or a DN whose first cn= is one
	Member         string // a group's members, as DNs
	Name           string // display name
	Login          string // a second attribute AUTH user names are looked up by
	GroupClass     string // objectClass of groups
	LegacyDN       string // legacy Exchange DN, found by EX addresses ("" for none)
}

// LDAPDefaults are the attribute names of each schema: Active Directory's
// (with Exchange's attributes), and OpenLDAP's with the schema shipped in
// packaging/ldap/waypost.ldif.
var LDAPDefaults = map[string]LDAPAttributes{
	SchemaActiveDirectory: {ProxyAddresses: "proxyAddresses", Mail: "mail", Target: "targetAddress", HomeServer: "msExchHomeServerName",
		Member: "member", Name: "displayName", Login: "userPrincipalName", GroupClass: "group", LegacyDN: "legacyExchangeDN"},
	SchemaOpenLDAP: {ProxyAddresses: "waypostProxyAddress", Mail: "mail", Target: "waypostTargetAddress", HomeServer: "waypostHomeServer",
		Member: "member", Name: "cn", Login: "uid", GroupClass: "groupOfNames", LegacyDN: ""},
}
