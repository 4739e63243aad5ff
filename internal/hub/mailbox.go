package hub

import (
	"github.com/waypost/waypost/internal/config"
	"github.com/waypost/waypost/internal/delivery"
)

// mailboxAgent is the agent for the mailboxes of this server, as its
// mailbox_delivery says: the Maildirs under the data folder, or LMTP (RFC
// 2033) to a mail store such as Dovecot, on the hub's connection pool.
func (h *Hub) mailboxAgent() delivery.Agent {
	md := h.server.MailboxDelivery
	if md.Kind != config.MailboxLMTP {
		return h.maildir
	}
	return &delivery.LMTP{Address: md.Address, Helo: h.server.FQDN, Pool: h.pool, Log: h.log}
}
