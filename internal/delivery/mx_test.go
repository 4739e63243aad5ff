package delivery

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a small authoritative DNS server on a loopback UDP port:
// MX and A records by name, names that do not exist (NXDOMAIN) and names
// whose lookups fail (SERVFAIL). It records the questions it is asked.
type dnsServer struct {
	addr     string
	mx       map[string][]dnsmessage.MXResource
	a        map[string]bool // name -> 127.0.0.1
	servfail map[string]bool
	asked    []string   // "TYPE name"
	mu       sync.Mutex // guards all of the above
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	d := &dnsServer{addr: pc.LocalAddr().String(), mx: map[string][]dnsmessage.MXResource{}, a: map[string]bool{},
		servfail: map[string]bool{}}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := d.answer(buf[:n]); out != nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	return d
}

func (d *dnsServer) addMX(domain string, pref uint16, host string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mx[domain] = append(d.mx[domain], dnsmessage.MXResource{Pref: pref, MX: dnsmessage.MustNewName(host)})
}

// addA gives each name the address 127.0.0.1.
func (d *dnsServer) addA(names ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range names {
		d.a[n] = true
	}
}

func (d *dnsServer) failing(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.servfail[name] = true
}

func (d *dnsServer) answer(req []byte) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := strings.ToLower(q.Name.String())
	d.asked = append(d.asked, strings.TrimPrefix(q.Type.String(), "Type")+" "+name)
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	switch {
	case d.servfail[name]:
		rh.RCode = dnsmessage.RCodeServerFailure
	case d.mx[name] == nil && !d.a[name]:
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	hdr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	if rh.RCode == dnsmessage.RCodeSuccess {
		switch q.Type {
		case dnsmessage.TypeMX:
			for _, mx := range d.mx[name] {
				b.MXResource(hdr, mx)
			}
		case dnsmessage.TypeA:
			if d.a[name] {
				b.AResource(hdr, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}})
			}
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}

func (d *dnsServer) questions() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}

func (d *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "udp", d.addr)
	}}
}

// asked reports whether the server was asked question q ("A name.").
func (d *dnsServer) wasAsked(q string) bool {
	for _, a := range d.questions() {
		if a == q {
			return true
		}
	}
	return false
}

func mxAgent(d *dnsServer, ts *testServer) *SMTP {
	return &SMTP{Resolver: d.resolver(), Port: ts.port, Helo: "hub1.contoso.test", DefaultDomain: "contoso.test", Timeout: 5 * time.Second}
}

// MX hosts are tried in preference order, whatever order DNS gives them
// in: the lower preference first, the next one when it cannot be reached.
func TestMXPreferenceOrder(t *testing.T) {
	d := startDNS(t)
	ts := startTestServer(t, "", false)
	d.addMX("first.test.", 20, "mx20.first.test.")
	d.addMX("first.test.", 10, "mx10.first.test.")
	d.addA("mx10.first.test.", "mx20.first.test.")
	d.addMX("second.test.", 20, "mx20.second.test.")
	d.addMX("second.test.", 10, "gone.second.test.") // no address: unreachable
	d.addA("mx20.second.test.")
	a := mxAgent(d, ts)

	res := a.Deliver(context.Background(), message("x\r\n", smtpTo("carol@first.test")))
	if res[0].Class != Relayed || res[0].RemoteHost != net.JoinHostPort("mx10.first.test.", ts.port) {
		t.Fatalf("%+v", res[0])
	}
	if d.wasAsked("A mx20.first.test.") {
		t.Error("the preference 20 host was looked up though preference 10 took the message")
	}
	res = a.Deliver(context.Background(), message("x\r\n", smtpTo("dave@second.test")))
	if res[0].Class != Relayed || res[0].RemoteHost != net.JoinHostPort("mx20.second.test.", ts.port) {
		t.Fatalf("after an unreachable preference 10: %+v", res[0])
	}
	if !d.wasAsked("A gone.second.test.") {
		t.Error("the preference 10 host was not tried first")
	}
}

// Hosts of equal preference come in random order (RFC 5321 section 5.1).
func TestMXEqualPreferenceShuffled(t *testing.T) {
	d := startDNS(t)
	d.addMX("even.test.", 10, "a.even.test.")
	d.addMX("even.test.", 10, "b.even.test.")
	d.addMX("even.test.", 5, "best.even.test.")
	a := &SMTP{Resolver: d.resolver(), Port: "25"}
	firsts := map[string]int{}
	for range 40 {
		hosts, fail := a.exchangers(context.Background(), "even.test")
		if fail != nil || len(hosts) != 3 || hosts[0] != "best.even.test.:25" {
			t.Fatalf("%v %+v", hosts, fail)
		}
		firsts[hosts[1]]++
	}
	if len(firsts) != 2 {
		t.Errorf("equal preferences always in the same order: %v", firsts)
	}
}

// No MX records but an address: the domain itself is the mail exchanger.
func TestMXImplicit(t *testing.T) {
	d := startDNS(t)
	ts := startTestServer(t, "", false)
	d.addA("plain.test.")
	res := mxAgent(d, ts).Deliver(context.Background(), message("x\r\n", smtpTo("erin@plain.test")))
	if res[0].Class != Relayed || res[0].RemoteHost != net.JoinHostPort("plain.test.", ts.port) {
		t.Fatalf("%+v", res[0])
	}
}

// A null MX fails 5.1.10, a domain that does not exist 5.1.2, and a DNS
// failure is retried 4.4.3; nothing is sent for any of them.
func TestMXFailures(t *testing.T) {
	d := startDNS(t)
	ts := startTestServer(t, "", false)
	d.addMX("nomail.test.", 0, ".")
	d.failing("broken.test.")
	res := mxAgent(d, ts).Deliver(context.Background(), message("x\r\n",
		smtpTo("a@nomail.test"), smtpTo("b@nowhere.test"), smtpTo("c@broken.test"), smtpTo("no-domain")))
	want := []struct {
		class  Class
		status string
		text   string
	}{
		{Failed, "5.1.10", "nomail.test does not accept mail (null MX)"},
		{Failed, "5.1.2", "nowhere.test does not exist"},
		{Retry, "4.4.3", "DNS lookup of the MX records of broken.test failed"},
		{Failed, "5.1.3", "no domain"},
	}
	for i, w := range want {
		if res[i].Class != w.class || res[i].Status != w.status || !strings.Contains(res[i].Text, w.text) {
			t.Errorf("recipient %d: %+v, want %s %s %q", i, res[i], w.class, w.status, w.text)
		}
	}
	if accepted, _, _ := ts.counts(); accepted != 0 {
		t.Errorf("%d connections made", accepted)
	}
}

// Recipients are grouped by domain: one session per domain, each with
// its own recipients, results in the message's order.
func TestMXGroupsByDomain(t *testing.T) {
	d := startDNS(t)
	ts := startTestServer(t, "", false)
	d.addMX("one.test.", 10, "mx.one.test.")
	d.addA("mx.one.test.", "two.test.")
	res := mxAgent(d, ts).Deliver(context.Background(), message("x\r\n",
		smtpTo("a@one.test"), smtpTo("b@TWO.test"), smtpTo("c@One.Test"), smtpTo("bad@two.test")))
	for i, w := range []Class{Relayed, Relayed, Relayed, Failed} {
		if res[i].Class != w {
			t.Errorf("recipient %d: %+v, want %s", i, res[i], w)
		}
	}
	msgs := ts.messages()
	if accepted, _, _ := ts.counts(); accepted != 2 || len(msgs) != 2 {
		t.Fatalf("%d connections, %d messages; want 2 and 2", accepted, len(msgs))
	}
	// The domains go side by side: in either order.
	got := []string{strings.Join(msgs[0].to, ","), strings.Join(msgs[1].to, ",")}
	slices.Sort(got)
	if strings.Join(got, " | ") != "a@one.test,c@One.Test | b@TWO.test" {
		t.Errorf("sessions: %s", got)
	}
}
