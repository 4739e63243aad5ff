package senderauth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// Budget is the time all the DNS lookups of one message may take
// together.
const Budget = 3 * time.Second

// maxSignatures is how many DKIM signatures of a message are verified;
// more would only spend the DNS budget.
const maxSignatures = 5

// Checker checks messages; its zero value asks the system's resolver.
type Checker struct {
	Resolver   *net.Resolver // nil: net.DefaultResolver
	AuthServID string        // this server's name in the field (its FQDN)
	Budget     time.Duration // 0: Budget
}

// Input is what the SMTP session knows of the sender.
type Input struct {
	IP       net.IP
	Helo     string
	MailFrom string // "" for the null reverse path
}

// DKIM is the result of one signature.
type DKIM struct {
	Value  authres.ResultValue
	Domain string // d=
	Reason string
}

// Verdict is what Check found.
type Verdict struct {
	SPF       authres.ResultValue
	SPFDomain string // the domain SPF checked: MAIL FROM's, or HELO's with a null sender
	SPFHelo   bool   // SPFDomain is the HELO name (null sender)
	DKIM      []DKIM // none: the message has no signature
	DMARC     authres.ResultValue
	From      string       // the RFC 5322.From domain
	Policy    dmarc.Policy // the policy that applies to From (p=, or sp= from the organizational domain); "" without one
	Reason    string       // why DMARC is not pass, for a reply or the log
}

// Field is the Authentication-Results header field of v, with its CRLF,
// folded one method per line.
func (v *Verdict) Field(authServID string) string {
	results := []authres.Result{&authres.SPFResult{Value: v.SPF, From: v.mailFrom(), Helo: v.helo()}}
	if len(v.DKIM) == 0 {
		results = append(results, &authres.DKIMResult{Value: authres.ResultNone})
	}
	for _, d := range v.DKIM {
		results = append(results, &authres.DKIMResult{Value: d.Value, Domain: d.Domain, Reason: d.Reason})
	}
	results = append(results, &authres.DMARCResult{Value: v.DMARC, From: v.From})
	var b strings.Builder
	b.WriteString("Authentication-Results: ")
	b.WriteString(authServID)
	for _, r := range results {
		s := authres.Format(authServID, []authres.Result{r})
		b.WriteString(";\r\n\t")
		b.WriteString(strings.TrimSpace(strings.TrimPrefix(s, authServID+"; ")))
	}
	b.WriteString("\r\n")
	return b.String()
}

// mailFrom and helo are the identity SPF checked (RFC 8601 section
// 2.7.2: smtp.mailfrom, or smtp.helo with a null sender).
func (v *Verdict) mailFrom() string {
	if v.SPFHelo {
		return ""
	}
	return v.SPFDomain
}

func (v *Verdict) helo() string {
	if v.SPFHelo {
		return v.SPFDomain
	}
	return ""
}

// Check reads the message from msg to its end (or as far as the DKIM
// verifier needs) and returns the verdict. It never fails: what cannot be
// checked is a temperror or permerror in the verdict.
func (c *Checker) Check(ctx context.Context, in Input, msg io.Reader) *Verdict {
	budget := c.Budget
	if budget == 0 {
		budget = Budget
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	r := c.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	lookupTXT := func(name string) ([]string, error) { return r.LookupTXT(ctx, name) }

	v := &Verdict{}
	var panicked atomic.Value // a panic of a goroutine below, reported by Check's caller
	var wg sync.WaitGroup
	var spfDomain string
	wg.Go(func() {
		defer recoverTo(&panicked)
		v.SPF, spfDomain = c.spf(ctx, r, in)
	})

	br := bufio.NewReaderSize(msg, 64<<10)
	hdr, herr := readHeader(br)
	from, ferr := fromDomain(hdr)
	var rec *dmarc.Record
	var orgLevel bool
	var recErr error
	if ferr == nil {
		v.From = from
		wg.Go(func() {
			defer recoverTo(&panicked)
			rec, orgLevel, recErr = lookupDMARC(from, lookupTXT)
		})
	}
	if herr == nil {
		v.DKIM = verifyDKIM(io.MultiReader(bytes.NewReader(hdr), br), lookupTXT)
	}
	io.Copy(io.Discard, br) // the verifier need not read it all
	wg.Wait()
	if p := panicked.Load(); p != nil {
		// On the caller's goroutine, where the session recovers it
		// (smtpd's recover.go): the message is refused, not half-checked.
		panic(p)
	}
	v.SPFDomain, v.SPFHelo = spfDomain, in.MailFrom == ""

	switch {
	case herr != nil:
		v.DMARC, v.Reason = authres.ResultPermError, herr.Error()
	case ferr != nil:
		v.DMARC, v.Reason = authres.ResultPermError, ferr.Error()
	case errors.Is(recErr, dmarc.ErrNoPolicy):
		v.DMARC, v.Reason = authres.ResultNone, "no DMARC record for "+from
	case dmarc.IsTempFail(recErr):
		v.DMARC, v.Reason = authres.ResultTempError, "the DMARC record of "+from+" could not be looked up in time"
	case recErr != nil:
		v.DMARC, v.Reason = authres.ResultPermError, recErr.Error()
	default:
		v.Policy = rec.Policy
		if orgLevel && rec.SubdomainPolicy != "" {
			v.Policy = rec.SubdomainPolicy
		}
		v.DMARC, v.Reason = evaluate(v, spfDomain, rec)
	}
	return v
}

// spf checks MAIL FROM's domain, or the HELO name with a null sender
// (RFC 7208 section 2.4), and returns the result and the domain checked.
func (c *Checker) spf(ctx context.Context, r *net.Resolver, in Input) (authres.ResultValue, string) {
	sender := in.MailFrom
	domain := in.Helo
	if at := strings.LastIndexByte(sender, '@'); at >= 0 {
		domain = sender[at+1:]
	} else if sender != "" {
		return authres.ResultPermError, sender
	}
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	res, _ := spf.CheckHostWithSender(in.IP, in.Helo, sender, spf.WithContext(ctx), spf.WithResolver(r))
	if ctx.Err() != nil && (res == spf.None || res == spf.PermError) {
		// a lookup cut off by the budget may read as "no record"
		res = spf.TempError
	}
	return authres.ResultValue(res), domain
}

// verifyDKIM verifies the signatures (at most maxSignatures).
func verifyDKIM(msg io.Reader, lookupTXT func(string) ([]string, error)) []DKIM {
	vs, err := dkim.VerifyWithOptions(msg, &dkim.VerifyOptions{LookupTXT: lookupTXT, MaxVerifications: maxSignatures})
	if err != nil && len(vs) == 0 {
		return []DKIM{{Value: authres.ResultPermError, Reason: err.Error()}}
	}
	var out []DKIM
	for _, v := range vs {
		d := DKIM{Value: authres.ResultPass, Domain: strings.ToLower(v.Domain)}
		switch {
		case v.Err == nil:
		case dkim.IsTempFail(v.Err):
			d.Value, d.Reason = authres.ResultTempError, v.Err.Error()
		case dkim.IsPermFail(v.Err):
			d.Value, d.Reason = authres.ResultPermError, v.Err.Error()
		default:
			d.Value, d.Reason = authres.ResultFail, v.Err.Error()
		}
		out = append(out, d)
	}
	return out
}

// lookupDMARC finds the policy of the From domain, or else of its
// organizational domain (RFC 7489 section 6.6.3); orgLevel tells which.
func lookupDMARC(from string, lookupTXT func(string) ([]string, error)) (*dmarc.Record, bool, error) {
	rec, err := dmarc.LookupWithOptions(from, &dmarc.LookupOptions{LookupTXT: lookupTXT})
	if !errors.Is(err, dmarc.ErrNoPolicy) {
		return rec, false, err
	}
	od := orgDomain(from)
	if od == from {
		return nil, false, err
	}
	rec, err = dmarc.LookupWithOptions(od, &dmarc.LookupOptions{LookupTXT: lookupTXT})
	return rec, true, err
}

// evaluate is DMARC's result (RFC 7489 section 6.6.2): pass when SPF or
// a DKIM signature passed for a domain aligned with From; temperror when
// neither passed and one could not be checked; fail otherwise.
func evaluate(v *Verdict, spfDomain string, rec *dmarc.Record) (authres.ResultValue, string) {
	temp := v.SPF == authres.ResultTempError
	if v.SPF == authres.ResultPass && aligned(spfDomain, v.From, rec.SPFAlignment) {
		return authres.ResultPass, ""
	}
	for _, d := range v.DKIM {
		if d.Value == authres.ResultPass && aligned(d.Domain, v.From, rec.DKIMAlignment) {
			return authres.ResultPass, ""
		}
		temp = temp || d.Value == authres.ResultTempError
	}
	if temp {
		return authres.ResultTempError, fmt.Sprintf("SPF or DKIM of %s could not be checked in time", v.From)
	}
	return authres.ResultFail, fmt.Sprintf("neither SPF (%s for %s) nor a DKIM signature passes for %s", v.SPF, orNone(spfDomain), v.From)
}

func orNone(s string) string {
	if s == "" {
		return "no domain"
	}
	return s
}

// aligned compares a domain with the From domain: equal in strict mode,
// of one organizational domain in relaxed mode (RFC 7489 section 3.1).
func aligned(d, from string, mode dmarc.AlignmentMode) bool {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	if d == "" {
		return false
	}
	if d == from {
		return true
	}
	return mode != dmarc.AlignmentStrict && orgDomain(d) == orgDomain(from)
}

// orgDomain is the organizational domain (RFC 7489 section 3.2): the
// public suffix and one label more.
func orgDomain(d string) string {
	od, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return od
}

// maxHeader bounds the header section read to find From.
const maxHeader = 1 << 20

func readHeader(br *bufio.Reader) ([]byte, error) {
	var hdr []byte
	for {
		line, err := br.ReadSlice('\n')
		hdr = append(hdr, line...)
		if len(hdr) > maxHeader {
			return nil, fmt.Errorf("the header section is over %d bytes", maxHeader)
		}
		switch {
		case err == nil && (string(line) == "\r\n" || string(line) == "\n"):
			return hdr, nil
		case errors.Is(err, io.EOF):
			return hdr, nil
		case err != nil && !errors.Is(err, bufio.ErrBufferFull):
			return nil, err
		}
	}
}

// fromDomain is the domain of the one author of the message; a message
// with no From, or authors of several domains, has none (RFC 7489
// section 6.6.1).
func fromDomain(hdr []byte) (string, error) {
	m, err := mail.ReadMessage(bytes.NewReader(append(bytes.Clone(hdr), "\r\n"...)))
	if err != nil {
		return "", fmt.Errorf("the header section cannot be read: %v", err)
	}
	froms := m.Header["From"]
	if len(froms) != 1 {
		return "", fmt.Errorf("the message has %d From fields, not 1", len(froms))
	}
	list, err := mail.ParseAddressList(froms[0])
	if err != nil {
		return "", fmt.Errorf("the From field is not an address list: %v", err)
	}
	domain := ""
	for _, a := range list {
		d := strings.ToLower(a.Address[strings.LastIndexByte(a.Address, '@')+1:])
		if domain != "" && d != domain {
			return "", errors.New("the From field names authors of several domains")
		}
		domain = d
	}
	return domain, nil
}

// recoverTo keeps the panic of a goroutine of Check, so that Check panics
// with it on its caller's goroutine instead of ending the process.
func recoverTo(v *atomic.Value) {
	if p := recover(); p != nil {
		v.CompareAndSwap(nil, fmt.Sprintf("senderauth: %v\n%s", p, debug.Stack()))
	}
}
