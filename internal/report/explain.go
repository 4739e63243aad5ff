package report

import (
	"strings"

	"github.com/waypost/waypost/internal/status"
)

// Explain says in plain words what a status code means for the person
// who sent the message.
func Explain(code, typ string) string {
	switch code {
	case status.BadMailbox:
		return "The address wasn't found at the destination. Check it for typing mistakes, or ask the recipient for the right address."
	case status.BadAddress, status.BadMailboxSyntax:
		return "The address isn't written in a form mail can be sent to. Check it and send the message again."
	case status.Unroutable:
		if typ != "" && !strings.EqualFold(typ, "SMTP") {
			return "None of the organization's connectors can send to " + strings.ToUpper(typ) + " addresses from your site. Ask your administrator which address types you can send to."
		}
		return "The destination couldn't be found. Check the domain of the address."
	case status.Expired:
		return "The message couldn't be delivered in time: the destination didn't answer, so the server stopped trying."
	case status.MessageTooBig, status.MessageOverMailboxLimit:
		return "The message is too big to be delivered. Send it again with smaller attachments, or share them another way."
	case status.Loop:
		return "The message was going round in a loop between mail systems, so it was stopped. Tell your administrator."
	case status.NotAuthorized:
		return "You aren't allowed to send to this recipient, or the destination refused the message for security reasons."
	case status.NullMX:
		return "The recipient's domain doesn't accept mail. Check the address for typing mistakes."
	case status.BadSystem:
		return "The recipient's domain doesn't exist. Check the address for typing mistakes."
	case status.MailboxFull:
		return "The recipient's mailbox is full. Try again later."
	}
	if strings.HasPrefix(code, "4.") {
		return "The destination couldn't take the message for now, and the server stopped trying."
	}
	return "The destination system refused the message. The diagnostic information below says why."
}
