package report

import "strings"

// Explain says in plain words what a status code means for the person
// who sent the message.
func Explain(status, typ string) string {
	switch status {
	case "5.1.1":
		return "The address wasn't found at the destination. Check it for typing mistakes, or ask the recipient for the right address."
	case "5.1.0", "5.1.3":
		return "The address isn't written in a form mail can be sent to. Check it and send the message again."
	case "5.4.4":
		if typ != "" && !strings.EqualFold(typ, "SMTP") {
			return "None of the organization's connectors can send to " + strings.ToUpper(typ) + " addresses from your site. Ask your administrator which address types you can send to."
		}
		return "The destination couldn't be found. Check the domain of the address."
	case "4.4.7":
		return "The message couldn't be delivered in time: the destination didn't answer, so the server stopped trying."
	case "5.3.4", "5.2.3":
		return "The message is too big to be delivered. Send it again with smaller attachments, or share them another way."
	case "5.4.6":
		return "The message was going round in a loop between mail systems, so it was stopped. Tell your administrator."
	case "5.7.1":
		return "You aren't allowed to send to this recipient, or the destination refused the message for security reasons."
	case "5.1.10":
		return "The recipient's domain doesn't accept mail. Check the address for typing mistakes."
	case "5.1.2":
		return "The recipient's domain doesn't exist. Check the address for typing mistakes."
	case "5.2.2":
		return "The recipient's mailbox is full. Try again later."
	}
	if strings.HasPrefix(status, "4.") {
		return "The destination couldn't take the message for now, and the server stopped trying."
	}
	return "The destination system refused the message. The diagnostic information below says why."
}
