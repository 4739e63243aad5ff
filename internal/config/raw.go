package config

// The raw* types mirror the TOML file. Sizes and durations are decoded as
// loosely as TOML allows (a size may be a number or a string) and checked by
// validate, so that one bad value does not hide the others.

type rawFile struct {
	Organization   rawOrganization     `toml:"organization"`
	Site           []rawSite           `toml:"site"`
	SiteLink       []rawSiteLink       `toml:"site_link"`
	Server         []rawServer         `toml:"server"`
	AcceptedDomain []rawAcceptedDomain `toml:"accepted_domain"`
	SendConnector  []rawSendConnector  `toml:"send_connector"`
	Recipient      []rawRecipient      `toml:"recipient"`
	Directory      rawDirectory        `toml:"directory"`
}

type rawOrganization struct {
	Name              string   `toml:"name"`
	DefaultDomain     string   `toml:"default_domain"`
	MaxHopCount       *int     `toml:"max_hop_count"`
	MessageExpiration string   `toml:"message_expiration"`
	DelayNotification string   `toml:"delay_notification"`
	HubSecretFile     string   `toml:"hub_secret_file"`
	Administrators    []string `toml:"administrators"`
	IMAPHost          string   `toml:"imap_host"`
	Retry             rawRetry `toml:"retry"`

	GlitchRetryInterval    string `toml:"glitch_retry_interval"`
	ShadowHeartbeatTimeout string `toml:"shadow_heartbeat_timeout"`
	ShadowOnReceive        string `toml:"shadow_on_receive"`
}

type rawRetry struct {
	GlitchCount       *int   `toml:"glitch_count"`
	GlitchInterval    string `toml:"glitch_interval"`
	TransientCount    *int   `toml:"transient_count"`
	TransientInterval string `toml:"transient_interval"`
	OutboundInterval  string `toml:"outbound_interval"`
}

type rawSite struct {
	Name    string `toml:"name"`
	HubSite bool   `toml:"hub_site"`
}

type rawSiteLink struct {
	Name  string   `toml:"name"`
	Sites []string `toml:"sites"`
	Cost  *int     `toml:"cost"`
}

type rawServer struct {
	Name    string `toml:"name"`
	Site    string `toml:"site"`
	FQDN    string `toml:"fqdn"`
	DataDir string `toml:"data_dir"`
	Relay   string `toml:"relay"`
	// RelayTLS is the relay listener's certificate; none: a self-signed
	// one made at first start in the data folder.
	RelayTLS *rawTLS  `toml:"relay_tls"`
	API      string   `toml:"api"`
	DNS      []string `toml:"dns"`
	// DNSTrusted declares the resolvers DNSSEC-validating, over a
	// trusted path: their AD bit counts (DANE, RFC 7672 section 2.1.1).
	DNSTrusted bool         `toml:"dns_trusted"`
	Receive    []rawReceive `toml:"receive"`
	// QueueSync is how the queue makes a message durable: "auto",
	// "filesystem" or "file" (model.go, Server.QueueSync).
	QueueSync string `toml:"queue_sync"`

	MailboxDelivery *rawMailboxDelivery `toml:"mailbox_delivery"`
}

type rawMailboxDelivery struct {
	Kind    string `toml:"kind"`
	Address string `toml:"address"`
}

type rawReceive struct {
	Name           string   `toml:"name"`
	Listen         string   `toml:"listen"`
	Kind           string   `toml:"kind"`
	RemoteRanges   []string `toml:"remote_ranges"`
	RelayRanges    []string `toml:"relay_ranges"`
	MaxMessageSize any      `toml:"max_message_size"`
	MaxRecipients  *int     `toml:"max_recipients"`
	MaxLineLength  *int     `toml:"max_line_length"`
	CommandTimeout string   `toml:"command_timeout"`
	DataTimeout    string   `toml:"data_timeout"`
	MaxErrors      *int     `toml:"max_errors"`
	MaxHopCount    *int     `toml:"max_hop_count"`
	TLS            *rawTLS  `toml:"tls"`
	SenderAuth     string   `toml:"sender_auth"`

	// Limits against abuse (build_receive_limits.go).
	BareLFRanges         []string `toml:"bare_lf_ranges"`
	MaxHeaderSize        any      `toml:"max_header_size"`
	MinFreeSpace         any      `toml:"min_free_space"`
	MaxConnections       *int     `toml:"max_connections"`
	MaxConnectionsPerIP  *int     `toml:"max_connections_per_ip"`
	MinDataRate          *int     `toml:"min_data_rate"`
	MaxAuthFailuresPerIP *int     `toml:"max_auth_failures_per_ip"`
	AuthFailureWindow    string   `toml:"auth_failure_window"`
	AuthLockout          string   `toml:"auth_lockout"`
}

type rawTLS struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

type rawAcceptedDomain struct {
	Domain string `toml:"domain"`
	Type   string `toml:"type"`
	// DKIM is one inline table {selector, key_file} or a list of them
	// (build_dkim.go).
	DKIM any `toml:"dkim"`
}

type rawSendConnector struct {
	Name           string      `toml:"name"`
	AddressSpaces  []string    `toml:"address_spaces"`
	SourceServers  []string    `toml:"source_servers"`
	Scoped         bool        `toml:"scoped"`
	Enabled        *bool       `toml:"enabled"`
	MaxMessageSize any         `toml:"max_message_size"`
	Delivery       rawDelivery `toml:"delivery"`
}

type rawDelivery struct {
	Kind          string   `toml:"kind"`
	SmartHosts    []string `toml:"smart_hosts"`
	Auth          *rawAuth `toml:"auth"`
	TLS           string   `toml:"tls"`
	Encapsulation string   `toml:"encapsulation"`
	Directory     string   `toml:"directory"`
	Pickup        string   `toml:"pickup"`
	Command       []string `toml:"command"`
	Timeout       string   `toml:"timeout"`
	URL           string   `toml:"url"`
	TokenFile     string   `toml:"token_file"`
	Format        string   `toml:"format"`
}

type rawAuth struct {
	Username     string `toml:"username"`
	PasswordFile string `toml:"password_file"`
}

type rawRecipient struct {
	Kind         string   `toml:"kind"`
	Name         string   `toml:"name"`
	Server       string   `toml:"server"`
	Addresses    []string `toml:"addresses"`
	PasswordHash string   `toml:"password_hash"`
	Target       string   `toml:"target"`
	Members      []string `toml:"members"`
}
