package smtpd

import (
	"bytes"
	"testing"
)

// goSMTPRead is go-smtp's DATA reader (data.go): it undoes dot-stuffing and
// stops at <CR><LF>.<CR><LF>. It returns the content, the bytes of b used
// and whether the end of data was found.
func goSMTPRead(b []byte) ([]byte, int, bool) {
	const (
		beginLine = iota
		dot
		dotCR
		cr
		data
	)
	st := beginLine
	var out []byte
	for i, c := range b {
		switch st {
		case beginLine:
			if c == '.' {
				st = dot
				continue
			}
			if c == '\r' {
				st = cr
				break
			}
			st = data
		case dot:
			if c == '\r' {
				st = dotCR
				continue
			}
			st = data
		case dotCR:
			if c == '\n' {
				return out, i + 1, true
			}
			st = data
		case cr:
			if c == '\n' {
				st = beginLine
				break
			}
			st = data
		case data:
			if c == '\r' {
				st = cr
			}
		}
		out = append(out, c)
	}
	return out, len(b), false
}

// FuzzDataScan checks the guard's DATA scanner against go-smtp's reader on
// any input, split anywhere, with and without the bare LF fix-up: the data
// ends exactly at the client's first <CR><LF>.<CR><LF> and go-smtp ends it
// at the same byte; what go-smtp reads has no bare CR (and, fixed up, no
// bare LF); and a message the scanner does not refuse reaches go-smtp as
// the client sent it, bare LFs made CRLF.
func FuzzDataScan(f *testing.F) {
	for _, s := range []string{
		"Subject: x\r\n\r\nbody\r\n.\r\n",
		"a\n.\nMAIL FROM:<e@x>\r\n.\r\n",
		"a\r\n.\nb\r\n.\r\n",
		"a\n.\r\nb\r\n.\r\n",
		"a\r.\rb\r\n.\r\n",
		"a\r\r\n.\r\r\n.\r\n",
		".\n..x\n\n.\r\n",
		"..\r\n.x\r\n\x00.\r\n.\r\n",
		"\n\r\n.\r\n",
	} {
		f.Add([]byte(s), uint8(3), false)
		f.Add([]byte(s), uint8(7), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint8, fixLF bool) {
		// Where the client's data ends: its first <CR><LF>.<CR><LF>, the
		// data starting at the beginning of a line.
		end := -1
		if i := bytes.Index(append([]byte("\r\n"), in...), []byte("\r\n.\r\n")); i >= 0 {
			end = i + 3
		}
		d := &dataScan{max: 40, fixLF: fixLF}
		k := min(int(split), len(in))
		out, n, done := d.run(in[:k], nil)
		if !done {
			var m int
			out, m, done = d.run(in[k:], out)
			n = k + m
		}
		switch {
		case end < 0 && done:
			t.Fatalf("end of data found in %q, which has none", in)
		case end >= 0 && (!done || n != end):
			t.Fatalf("end of data at %d (done %v), want %d, in %q", n, done, end, in)
		}
		content, used, eof := goSMTPRead(out)
		if eof != done || used != len(out) {
			t.Fatalf("go-smtp ends at %d of %d (eof %v), the scanner %v, for %q -> %q", used, len(out), eof, done, in, out)
		}
		for i, c := range out {
			if c == '\r' && (i+1 >= len(out) || out[i+1] != '\n') && !(i == len(out)-1 && !done) {
				t.Fatalf("bare CR handed on at %d: %q -> %q", i, in, out)
			}
			if fixLF && c == '\n' && (i == 0 || out[i-1] != '\r') {
				t.Fatalf("bare LF handed on at %d with fixLF: %q -> %q", i, in, out)
			}
		}
		if !done || d.bareCR || d.long || d.lfDot {
			return // refused, or cut short: the content does not matter
		}
		if d.bareLF && fixLF {
			t.Fatal("bare LF flagged with fixLF")
		}
		var want []byte
		for i, c := range in[:end] {
			if c == '\n' && fixLF && (i == 0 || in[i-1] != '\r') {
				want = append(want, '\r')
			}
			want = append(want, c)
		}
		wantContent, _, _ := goSMTPRead(want)
		if !bytes.Equal(content, wantContent) {
			t.Fatalf("content %q, want %q (input %q)", content, wantContent, in)
		}
	})
}
