package tracking

// Events of administrators' actions (`waypost queue`, `waypost reload`,
// SIGHUP), each written with the Actor who did it: the user the control
// socket's peer credentials name, "signal SIGHUP", or "file change".
const (
	Retry   = "RETRY"   // recipients made due now, their backoff reset
	Hold    = "HOLD"    // recipients held: never attempted until released
	Release = "RELEASE" // held recipients released, due now
	Remove  = "REMOVE"  // a message deleted, silently or with a report (Detail says which)
	Reroute = "REROUTE" // a recipient routed again to a new next hop (Detail: old -> new)
	Reload  = "RELOAD"  // the organization file reloaded (Detail: what changed) or refused
)
