package delivery

import (
	"time"

	"github.com/waypost/waypost/internal/status"
)

// Unreached reports whether res says that the host was never reached: no
// connection (refused, timed out), or one that ended before the host
// answered anything (its greeting, EHLO). That is the SMTP agent's
// result for every recipient when dial fails without a reply (4.4.1, no
// reply text): no transaction began, so the message may go to another
// host at once with no risk of a copy there. A host that answered, even
// 4xx or 5xx, was reached.
func Unreached(res []Result) bool {
	if len(res) == 0 {
		return false
	}
	for _, r := range res {
		if r.Class != Retry || r.Status != status.NoAnswer || r.RemoteText != "" {
			return false
		}
	}
	return true
}

// HubConnectTimeout is how long the hub relay waits for a peer hub to
// connect, greet and answer EHLO (and start TLS) when ConnectTimeout is
// not set: past it the peer counts as unreached, and the scheduler tries
// an equivalent hub at once (docs/operations.md, "Load sharing among
// hubs"). Other agents wait Timeout.
const HubConnectTimeout = 30 * time.Second

// connectTimeout is the time limit of each step of setting up a session.
func (a *SMTP) connectTimeout() time.Duration {
	switch {
	case a.ConnectTimeout > 0:
		return a.ConnectTimeout
	case a.Hub != nil:
		return min(HubConnectTimeout, a.timeout())
	}
	return a.timeout()
}
