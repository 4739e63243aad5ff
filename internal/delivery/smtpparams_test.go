package delivery

import "testing"

// The MAIL and RCPT lines carry each parameter only when the server
// offers its extension, in the forms go-smtp wrote them (xtext, RFC 6533
// utf-8-addr-xtext or -unitext), and SMTPUTF8 when an address needs it.
func TestMailAndRcptLines(t *testing.T) {
	m := &Message{From: "bob@fabrikam.test", Size: 1234, Ret: "HDRS", EnvID: "a+b=c d"}
	bare := &client{ext: map[string]string{}}
	all := &client{ext: map[string]string{"8BITMIME": "", "SIZE": "10000", "DSN": "", "SMTPUTF8": ""}}
	dsn := &client{ext: map[string]string{"DSN": ""}}
	for _, c := range []struct {
		c    *client
		utf8 bool
		want string
	}{
		{bare, true, "MAIL FROM:<bob@fabrikam.test>"},
		{all, false, "MAIL FROM:<bob@fabrikam.test> BODY=8BITMIME SIZE=1234 RET=HDRS ENVID=a+2Bb+3Dc+20d"},
		{all, true, "MAIL FROM:<bob@fabrikam.test> BODY=8BITMIME SIZE=1234 SMTPUTF8 RET=HDRS ENVID=a+2Bb+3Dc+20d"},
	} {
		if got := mailLine(c.c, m, c.utf8); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
	if got := mailLine(all, &Message{From: "", EnvID: "caf\u00e9"}, false); got != "MAIL FROM:<> BODY=8BITMIME" {
		t.Errorf("null sender, ENVID not ASCII: %q", got)
	}

	r := Recipient{Type: "SMTP", Address: "d@x.test", Notify: "success,failure", ORCPT: "utf-8;D\u00f6rte a+b@x.test"}
	for _, c := range []struct {
		c    *client
		want string
	}{
		{bare, "RCPT TO:<d@x.test>"},
		{dsn, `RCPT TO:<d@x.test> NOTIFY=SUCCESS,FAILURE ORCPT=UTF-8;D\x{F6}rte\x{20}a\x{2B}b@x.test`},
		{all, "RCPT TO:<d@x.test> NOTIFY=SUCCESS,FAILURE ORCPT=UTF-8;D\u00f6rte\\x{20}a\\x{2B}b@x.test"},
	} {
		if got := rcptLine(c.c, "d@x.test", rcptOptions(r)); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
	rfc822 := Recipient{ORCPT: "rfc822;Carol Smith+x@y.test", Notify: "NEVER,SUCCESS"}
	if got := rcptLine(dsn, "c@y.test", rcptOptions(rfc822)); got != "RCPT TO:<c@y.test> ORCPT=RFC822;Carol+20Smith+2Bx@y.test" {
		t.Errorf("rfc822 ORCPT, invalid NOTIFY: %q", got)
	}
	// A backslash and a control character are escaped too, with two hex
	// digits at least (RFC 6533 HEXPOINT).
	odd := Recipient{ORCPT: "utf-8;a\\b\tc@x.test"}
	if got := rcptLine(dsn, "o@x.test", rcptOptions(odd)); got != `RCPT TO:<o@x.test> ORCPT=UTF-8;a\x{5C}b\x{09}c@x.test` {
		t.Errorf("utf-8 ORCPT with a backslash and a tab: %q", got)
	}
	x400 := Recipient{ORCPT: "x400;c=US;a= ;p=Contoso;"}
	if got := rcptLine(dsn, "f@y.test", rcptOptions(x400)); got != "RCPT TO:<f@y.test>" {
		t.Errorf("x400 ORCPT: %q", got)
	}
}
