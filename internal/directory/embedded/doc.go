// Package embedded is the directory store that lives in a hub's data
// folder (interfaces.md section 1, [directory] backend = "embedded";
// issue 8): a bbolt file indexed by every proxy address of every type,
// normalised as directory.LookupKeys says, so that a lookup among a million
// recipients takes a few microseconds. `waypost directory` adds, removes,
// shows, lists and imports entries (CSV and LDIF, all or nothing, in one
// transaction).
//
// The hub opens the file read-only, which takes a shared lock: commands
// that only read (`directory show | list`, `route`) work while the hub runs,
// and commands that change it wait a moment for the exclusive lock and then
// say that the hub must be stopped first.
package embedded
