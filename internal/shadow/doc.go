// Package shadow is shadow redundancy between the hubs of an
// organization, after Exchange 2010's shadow redundancy and Exchange
// 2013's shadow copies made before the 250 (docs/design/shadow.md): a
// hub that has handed a message to another hub, or that holds a copy of
// a message another hub accepted, keeps it as a shadow until the hub
// holding the primary copy says it has delivered the message onward.
//
// It holds the protocol of the discharge query (query.go), which runs on
// the hub channel after the hub proof (package hubauth) with what RFC
// 5321 already has: MAIL FROM:<> and one RCPT TO:<ID@shadow.invalid> per
// queue ID (".invalid" is reserved by RFC 2606 and can never be a real
// recipient), each answered by a 250 line that says "done", "pending" or
// "unknown", then RSET; the set of discharged IDs a hub remembers to
// answer "done" (done.go); and the heartbeat that asks every holder of a
// primary in turn and resubmits the shadows of a holder that stays
// silent longer than the organization's shadow_heartbeat_timeout
// (watch.go). The queue keeps a shadow as recipients in the state
// queue.Shadowed; the scheduler discharges and resubmits them.
package shadow
