package config

import "path/filepath"

// defaultTOML is the built-in organization that `waypost serve` runs when no
// --config is given (interfaces.md section 1): one site, one hub on
// loopback, the domain example.test and its postmaster, and a drop folder
// for mail to every other domain.
const defaultTOML = `
[organization]
name = "Example"
default_domain = "example.test"

[[site]]
name = "Default"

[[server]]
name = "waypost"
site = "Default"
fqdn = "waypost.example.test"
data_dir = "waypost-data"
api = "127.0.0.1:8025"

  [[server.receive]]
  name = "Default"
  listen = "127.0.0.1:2525"
  kind = "smtp"

  [[server.receive]]
  name = "Clients"
  listen = "127.0.0.1:2587"
  kind = "submission"

[[accepted_domain]]
domain = "example.test"
type = "authoritative"

# Mail to every other domain (from users of the submission port, who may
# relay) is written as files into waypost-data/outbound/, one per message:
# nothing leaves this machine. Replace this connector with one of kind
# "smtp" (smart_hosts, or MX lookup) to send to the Internet.
[[send_connector]]
name = "Outbound"
address_spaces = ["SMTP:*;100"]
source_servers = ["waypost"]
delivery = { kind = "drop", directory = "waypost-data/outbound" }

[[recipient]]
kind = "mailbox"
name = "Postmaster"
server = "waypost"
addresses = ["SMTP:postmaster@example.test"]
`

// DefaultServer is the server name of the built-in organization.
const DefaultServer = "waypost"

// Default returns the built-in organization, with paths relative to dir
// (the working folder of `waypost serve`).
func Default(dir string) *Org {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	org, err := Parse([]byte(defaultTOML), "(built-in organization)", abs)
	if err != nil {
		panic("config: the built-in organization is invalid: " + err.Error()) // a test keeps this unreachable
	}
	return org
}
