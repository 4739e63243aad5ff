package embedded

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/directory"
)

// ldifValue is one attribute value of an LDIF record and its line.
type ldifValue struct {
	attr  string // lower case, options removed
	value string
	line  int
}

type ldifRecord struct {
	dn    string
	line  int
	attrs []ldifValue
}

// ReadLDIF reads recipients from LDIF (RFC 2849 content records, as
// slapcat, ldapsearch and Active Directory's ldifde write them), with the
// attributes of either schema: Active Directory's (proxyAddresses,
// targetAddress, msExchHomeServerName, legacyExchangeDN) or the one in
// packaging/ldap/waypost.ldif (waypostProxyAddress, waypostTargetAddress,
// waypostHomeServer); mail, displayName or cn, member or uniqueMember
// (DNs of entries in the same file), and userPassword as {CRYPT} bcrypt.
// A group is an entry of class group, groupOfNames or groupOfUniqueNames;
// a contact has a target; a mailbox has a home server. Entries with none
// of these and no address (organizational units, the base) are skipped.
// Problems come as a LineErrors, with the records that could be read.
func ReadLDIF(r io.Reader, file string) ([]Record, error) {
	raw, errs := parseLDIF(r, file)
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &LineError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	var recs []Record
	var groups []int // indexes in recs of groups, with their raw record
	var groupRaw []*ldifRecord
	byDN := map[string]*directory.Entry{}
	for i := range raw {
		lr := &raw[i]
		e, isGroup, skip := ldifEntry(lr, bad)
		if skip {
			continue
		}
		byDN[normDN(lr.dn)] = e
		if isGroup {
			groups = append(groups, len(recs))
			groupRaw = append(groupRaw, lr)
		}
		recs = append(recs, Record{Line: lr.line, Entry: e})
	}
	for gi, ri := range groups {
		e := recs[ri].Entry
		for _, v := range groupRaw[gi].attrs {
			if v.attr != "member" && v.attr != "uniquemember" {
				continue
			}
			m := byDN[normDN(v.value)]
			if m == nil {
				bad(v.line, "member %q of group %q is not an entry of this file (import the member too, or remove the line)", v.value, e.Name)
				continue
			}
			addr := m.PrimarySMTP()
			if addr == "" && len(m.Addresses) > 0 {
				addr = m.Addresses[0].String()
			}
			if addr == "" {
				bad(v.line, "member %q of group %q has no address", v.value, e.Name)
				continue
			}
			e.Members = append(e.Members, addr)
		}
	}
	if len(errs) > 0 {
		sortLineErrors(errs)
		return recs, errs
	}
	return recs, nil
}

// ldifEntry turns a record into an entry. skip is true for records that
// are no recipient (no address, no kind).
func ldifEntry(lr *ldifRecord, bad func(int, string, ...any)) (e *directory.Entry, isGroup, skip bool) {
	e = &directory.Entry{}
	var mail []ldifValue
	var name, cn string
	isContact, isMailbox := false, false
	hasPrimarySMTP := false
	for _, v := range lr.attrs {
		switch v.attr {
		case "objectclass":
			switch strings.ToLower(v.value) {
			case "group", "groupofnames", "groupofuniquenames":
				isGroup = true
			}
		case "waypostproxyaddress", "proxyaddresses":
			p, err := directory.ParseProxy(v.value)
			if err != nil {
				bad(v.line, "address %q: %v", v.value, err)
				continue
			}
			hasPrimarySMTP = hasPrimarySMTP || p.Primary && p.Type == "SMTP"
			e.Addresses = append(e.Addresses, p)
		case "legacyexchangedn":
			e.Addresses = append(e.Addresses, directory.Proxy{Address: address.Address{Type: "EX", Value: v.value}})
		case "mail":
			mail = append(mail, v)
		case "wayposttargetaddress", "targetaddress":
			t, err := address.Parse(v.value, nil)
			if err != nil {
				bad(v.line, "target %q: %v", v.value, err)
				continue
			}
			e.Target, isContact = &t, true
		case "wayposthomeserver", "msexchhomeservername":
			e.Server, isMailbox = directory.ServerName(v.value), true
		case "displayname":
			name = v.value
		case "cn":
			if cn == "" {
				cn = v.value
			}
		case "userpassword":
			h := v.value
			if len(h) > 7 && strings.EqualFold(h[:7], "{CRYPT}") {
				h = h[7:]
			}
			if !strings.HasPrefix(h, "$2") && !strings.HasPrefix(h, "$argon2id$") {
				bad(v.line, "userPassword of %q is not a bcrypt hash ({CRYPT}$2a$...); Waypost keeps no clear-text passwords", lr.dn)
				continue
			}
			e.PasswordHash = h
		}
	}
	for _, v := range mail {
		a, err := address.Parse(v.value, nil)
		if err != nil || a.Type != "SMTP" {
			bad(v.line, "mail %q is not an SMTP address", v.value)
			continue
		}
		p := directory.Proxy{Address: a, Primary: !hasPrimarySMTP}
		hasPrimarySMTP = true
		dup := false
		for _, q := range e.Addresses {
			dup = dup || q.Key() == p.Key()
		}
		if !dup {
			e.Addresses = append(e.Addresses, p)
		}
	}
	e.Name = name
	if e.Name == "" {
		e.Name = cn
	}
	if e.Name == "" { // the value of the DN's first RDN
		first, _, _ := strings.Cut(lr.dn, ",")
		_, v, _ := strings.Cut(first, "=")
		e.Name = strings.TrimSpace(v)
	}
	switch {
	case isGroup:
		e.Kind = directory.Group
	case isContact:
		e.Kind = directory.Contact
	case isMailbox:
		e.Kind = directory.Mailbox
	case len(e.Addresses) == 0:
		return nil, false, true
	default:
		bad(lr.line, "entry %q has addresses but is neither a mailbox (no waypostHomeServer or msExchHomeServerName), a contact (no waypostTargetAddress or targetAddress) nor a group (objectClass groupOfNames or group)", lr.dn)
	}
	return e, isGroup, false
}

// parseLDIF splits LDIF into records, unfolding continuation lines and
// decoding base64 values.
func parseLDIF(r io.Reader, file string) ([]ldifRecord, LineErrors) {
	var errs LineErrors
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &LineError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var recs []ldifRecord
	var cur *ldifRecord
	var text strings.Builder // the logical line being unfolded
	textLine, lineNo := 0, 0
	flush := func() {
		if textLine == 0 {
			return
		}
		l, n := text.String(), textLine
		text.Reset()
		textLine = 0
		attr, value, ok := ldifLine(l)
		if !ok {
			bad(n, "%q is not \"attribute: value\"", cut(l, 60))
			return
		}
		if strings.HasPrefix(value, ":") { // "attr:: base64"
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value[1:]))
			if err != nil {
				bad(n, "the base64 value of %s does not decode: %v", attr, err)
				return
			}
			value = string(b)
		} else if strings.HasPrefix(value, "<") {
			bad(n, "values from URLs (%s:<) are not read; put the value in the file", attr)
			return
		} else {
			value = strings.TrimLeft(value, " ")
		}
		switch {
		case attr == "version" && cur == nil && len(recs) == 0:
		case attr == "dn":
			if cur != nil {
				bad(n, "a second dn in one record; separate records with an empty line")
				return
			}
			recs = append(recs, ldifRecord{dn: value, line: n})
			cur = &recs[len(recs)-1]
		case cur == nil:
			bad(n, "%s before the record's dn line", attr)
		case attr == "changetype":
			bad(n, "change records (changetype) are not imported; export content records (ldapsearch or slapcat output)")
		default:
			cur.attrs = append(cur.attrs, ldifValue{attr: attr, value: value, line: n})
		}
	}
	for sc.Scan() {
		lineNo++
		l := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(l, " "):
			if textLine == 0 {
				bad(lineNo, "a continuation line (starting with a space) with no line before it")
				continue
			}
			text.WriteString(l[1:])
		case strings.HasPrefix(l, "#"):
			flush()
		case strings.TrimSpace(l) == "":
			flush()
			cur = nil
		default:
			flush()
			text.WriteString(l)
			textLine = lineNo
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		bad(lineNo+1, "reading: %v", err)
	}
	return recs, errs
}

// ldifLine splits "attr: value" (attr lower-cased, options such as ";lang-en"
// dropped); value keeps its leading ':' or '<' markers.
func ldifLine(l string) (attr, value string, ok bool) {
	i := strings.IndexByte(l, ':')
	if i <= 0 {
		return "", "", false
	}
	attr = strings.ToLower(strings.TrimSpace(l[:i]))
	if j := strings.IndexByte(attr, ';'); j >= 0 {
		attr = attr[:j]
	}
	if strings.ContainsAny(attr, " \t") {
		return "", "", false
	}
	return attr, l[i+1:], true
}

// normDN is a DN for comparing: lower case, blanks around ',' and '='
// removed.
func normDN(dn string) string {
	parts := strings.Split(dn, ",")
	for i, p := range parts {
		k, v, _ := strings.Cut(p, "=")
		parts[i] = strings.ToLower(strings.TrimSpace(k)) + "=" + strings.ToLower(strings.TrimSpace(v))
	}
	return strings.Join(parts, ",")
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func sortLineErrors(errs LineErrors) {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
}
