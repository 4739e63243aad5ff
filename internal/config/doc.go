// Package config reads and validates the organization file: one TOML file
// that describes sites, site links, servers with their receive connectors,
// accepted domains, send connectors and (for small organizations) the
// recipients of the directory. Every hub reads the same file.
//
// The contract is docs/design/interfaces.md section 1. Loading checks
// everything that can be checked without touching the machine and reports
// every problem at once, each with the file, the line and a fix (Errors);
// CheckFiles adds the checks that need the file system (secrets,
// certificates, folders), as `waypost check` and start-up do.
package config
