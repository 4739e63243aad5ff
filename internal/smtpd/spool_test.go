package smtpd

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// TestSpool: the sender checks' copy of a message stays in memory up to
// spoolInMemory (no file made) and moves to an unlinked file beyond it;
// either way each Reader gives the whole message from its start.
func TestSpool(t *testing.T) {
	for _, size := range []int{0, 1000, spoolInMemory, spoolInMemory + 1, 3*spoolInMemory + 7} {
		dir := t.TempDir()
		msg := bytes.Repeat([]byte("0123456789abcde\n"), size/16+1)[:size]
		sp := &spool{dir: dir}
		// Written in uneven pieces, as io.Copy from a session does.
		for rest := msg; len(rest) > 0; {
			n := min(len(rest), 5000)
			if _, err := sp.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if inFile := sp.f != nil; inFile != (size > spoolInMemory) {
			t.Errorf("%d bytes: in a file %v", size, inFile)
		}
		for range 2 {
			r, err := sp.Reader()
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(r)
			if !bytes.Equal(got, msg) {
				t.Fatalf("%d bytes: read back %d bytes, not the message", size, len(got))
			}
		}
		sp.Close()
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("%d bytes: the spool left %d names in its folder", size, len(left))
		}
	}
}

// TestSpoolFileFails: a copy that cannot move to a file says why.
func TestSpoolFileFails(t *testing.T) {
	sp := &spool{dir: "/nonexistent/folder"}
	_, err := sp.Write([]byte(strings.Repeat("x", spoolInMemory+1)))
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/folder") {
		t.Errorf("write beyond memory into a missing folder: %v", err)
	}
}
