package report

import (
	"bytes"
	"io"
	"runtime"
	"strings"
	"testing"
)

// counting is an original message that counts the bytes read from it.
type counting struct {
	io.ReadSeeker
	read int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.ReadSeeker.Read(p)
	c.read += int64(n)
	return n, err
}

// bigOriginal is a message with a short header and a body of n bytes.
func bigOriginal(n int) []byte {
	line := strings.Repeat("x", 78) + "\r\n"
	var b bytes.Buffer
	b.WriteString("From: Alice <alice@contoso.test>\r\nSubject: big\r\n\r\n")
	for b.Len() < n {
		b.WriteString(line)
	}
	return b.Bytes()
}

// A report that returns the header reads the header only: a bounce of a
// 20 MB message does not read 20 MB.
func TestWriteReadsOnlyTheHeader(t *testing.T) {
	orig := &counting{ReadSeeker: bytes.NewReader(bigOriginal(20 << 20))}
	var out bytes.Buffer
	if err := Write(&out, sample(), orig); err != nil {
		t.Fatal(err)
	}
	if orig.read > 64<<10 {
		t.Errorf("read %d bytes of the original to return its header", orig.read)
	}
	if !strings.Contains(out.String(), "Content-Type: text/rfc822-headers\r\n\r\nFrom: Alice <alice@contoso.test>\r\nSubject: big\r\n\r\n--") {
		t.Errorf("the returned header is not the original's:\n%s", out.String())
	}
}

// RET=FULL returns the whole message, streamed: writing the report of a
// 20 MB message to a writer that keeps nothing allocates far less than
// the message.
func TestWriteStreamsTheFullMessage(t *testing.T) {
	body := bigOriginal(20 << 20)
	r := sample()
	r.Ret = "FULL"
	var sum tail
	sum.w = io.Discard
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := Write(&sum, r, bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Errorf("writing the report allocated %d bytes for a %d-byte original", grew, len(body))
	}
	if sum.n < int64(len(body)) {
		t.Errorf("the report is %d bytes, shorter than the original's %d", sum.n, len(body))
	}

	// The same report in memory has the original whole, then the end.
	var out bytes.Buffer
	if err := Write(&out, r, bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "Content-Type: message/rfc822\r\n\r\n"+string(body)+"\r\n--waypost-") || !strings.HasSuffix(s, "--\r\n") {
		t.Error("RET=FULL does not return the whole original before the closing boundary")
	}
	if strings.Contains(s, "Content-Transfer-Encoding: 8bit\r\n\r\nFrom: Alice") {
		t.Error("a 7-bit original is labelled 8bit")
	}
}

// An 8-bit octet anywhere in the original labels the returned message
// 8bit, and an original without a final CRLF is given one before the
// boundary.
func TestWriteFullEightBitAndUnterminated(t *testing.T) {
	r := sample()
	r.Ret = "FULL"
	orig := string(bigOriginal(100<<10)) + "caf\xc3\xa9"
	var out bytes.Buffer
	if err := Write(&out, r, strings.NewReader(orig)); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\nFrom: Alice") {
		t.Error("an 8-bit original is not labelled 8bit")
	}
	if !strings.Contains(s, "caf\xc3\xa9\r\n\r\n--waypost-") {
		t.Error("the original's last line does not end with CRLF before the boundary")
	}
}
