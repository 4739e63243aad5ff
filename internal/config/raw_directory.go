package config

// rawDirectory is the [directory] section: where the organization's
// recipients live beyond the [[recipient]] entries of the file.
type rawDirectory struct {
	Backend string   `toml:"backend"`
	LDAP    *rawLDAP `toml:"ldap"`
}

type rawLDAP struct {
	URL              string            `toml:"url"`
	StartTLS         bool              `toml:"start_tls"`
	CAFile           string            `toml:"ca_file"`
	ServerName       string            `toml:"server_name"`
	BindDN           string            `toml:"bind_dn"`
	BindPasswordFile string            `toml:"bind_password_file"`
	BaseDN           string            `toml:"base_dn"`
	Schema           string            `toml:"schema"`
	Filter           string            `toml:"filter"`
	PoolSize         *int              `toml:"pool_size"`
	Timeout          string            `toml:"timeout"`
	Cache            string            `toml:"cache"`
	NegativeCache    string            `toml:"negative_cache"`
	Attributes       rawLDAPAttributes `toml:"attributes"`
}

type rawLDAPAttributes struct {
	ProxyAddresses string `toml:"proxy_addresses"`
	Mail           string `toml:"mail"`
	Target         string `toml:"target"`
	HomeServer     string `toml:"home_server"`
	Member         string `toml:"member"`
	Name           string `toml:"name"`
	Login          string `toml:"login"`
	GroupClass     string `toml:"group_class"`
	LegacyDN       string `toml:"legacy_dn"`
}
