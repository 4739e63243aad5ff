package delivery

import "github.com/waypost/waypost/internal/status"

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
