package delivery

import (
	"bufio"
	"strings"
	"testing"
)

// Replies of one line and of many, with and without enhanced status
// codes, are read whole, and the next reply starts where one ends.
func TestReadReply(t *testing.T) {
	for _, c := range []struct {
		in      string
		code    int
		status  [3]int
		message string // Message(): without the enhanced code
		text    string // Text(): as sent
	}{
		{"250 2.0.0 Ok: queued as X\r\n", 250, [3]int{2, 0, 0}, "Ok: queued as X", "2.0.0 Ok: queued as X"},
		{"550-5.1.1 No such user\r\n550-5.1.1 here\r\n550 5.1.1 Check it\r\n", 550, [3]int{5, 1, 1}, "No such user\nhere\nCheck it", "5.1.1 No such user\n5.1.1 here\n5.1.1 Check it"},
		{"250-mx.test Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", 250, [3]int{}, "mx.test Hello\nPIPELINING\nSIZE 1000", "mx.test Hello\nPIPELINING\nSIZE 1000"},
		{"451 4.7.1 Greylisted, try again\n", 451, [3]int{4, 7, 1}, "Greylisted, try again", "4.7.1 Greylisted, try again"},
		{"354 End data with <CR><LF>.<CR><LF>\r\n", 354, [3]int{}, "End data with <CR><LF>.<CR><LF>", "End data with <CR><LF>.<CR><LF>"},
		{"250\r\n", 250, [3]int{}, "", ""},
		{"550 5.1 not a code\r\n", 550, [3]int{}, "5.1 not a code", "5.1 not a code"},
		{"550 1.2.3 not a class\r\n", 550, [3]int{}, "1.2.3 not a class", "1.2.3 not a class"},
		{"421 4.4.2 mx.test closing\r\n", 421, [3]int{4, 4, 2}, "mx.test closing", "4.4.2 mx.test closing"},
		{"554 5.7.1 first\r\n", 554, [3]int{5, 7, 1}, "first", "5.7.1 first"},
	} {
		br := bufio.NewReader(strings.NewReader(c.in + "221 2.0.0 Bye\r\n"))
		r, err := readReply(br)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if r.Code != c.code || r.Status != c.status || r.Message() != c.message || r.Text() != c.text {
			t.Errorf("%q: %d %v %q %q, want %d %v %q %q", c.in, r.Code, r.Status, r.Message(), r.Text(), c.code, c.status, c.message, c.text)
		}
		if next, err := readReply(br); err != nil || next.Code != 221 {
			t.Errorf("%q: the next reply: %v %v", c.in, next, err)
		}
	}
}

// What is not a reply breaks the session: an error that is no reply.
func TestReadReplyMalformed(t *testing.T) {
	for _, in := range []string{
		"",
		"hello\r\n",
		"25\r\n",
		"2500 x\r\n",
		"650 six hundred\r\n",
		"250-first\r\n251 second\r\n",
		"250-unfinished\r\n",
		"250 " + strings.Repeat("x", maxReplyLine) + "\r\n",
	} {
		r, err := readReply(bufio.NewReader(strings.NewReader(in)))
		if err == nil || isReply(err) {
			t.Errorf("%q: %v %v, want an error that is no reply", in, r, err)
		}
	}
}

// A reply as an error maps to a Result as go-smtp's SMTPError did: 5xx
// failed, 4xx retry, the enhanced code as status (or class.0.0), the
// remote text with the code once.
func TestReplyResult(t *testing.T) {
	for _, c := range []struct {
		in     string
		class  Class
		status string
		remote string
	}{
		{"550-5.1.1 No such user\r\n550 5.1.1 Check it\r\n", Failed, "5.1.1", "550 5.1.1 No such user\nCheck it"},
		{"452 Too many recipients\r\n", Retry, "4.0.0", "452 4.0.0 Too many recipients"},
		{"421 4.3.2 Shutting down\r\n", Retry, "4.3.2", "421 4.3.2 Shutting down"},
	} {
		r, err := readReply(bufio.NewReader(strings.NewReader(c.in)))
		if err != nil {
			t.Fatal(err)
		}
		res := reply("mx.test:25", r, "4.4.2")
		if res.Class != c.class || res.Status != c.status || res.RemoteText != c.remote || res.RemoteHost != "mx.test:25" {
			t.Errorf("%q: %+v", c.in, res)
		}
	}
	if !closing(&smtpReply{Code: 421}) || closing(&smtpReply{Code: 450}) {
		t.Error("closing: only 421")
	}
}
