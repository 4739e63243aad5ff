package queue

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"time"
)

const (
	idTimeLen = 16                        // hex digits of the Unix time in nanoseconds
	idRandLen = 12                        // hex digits of randomness
	idLen     = idTimeLen + 1 + idRandLen // with the "-"
	tmpPrefix = "tmp-"                    // temp files; never the start of an ID
	metaExt   = ".json"
)

// idGen makes IDs that sort in the order they were made within one
// process, even when the clock stands still or steps back.
type idGen struct {
	mu   sync.Mutex
	last int64
}

func (g *idGen) next(now time.Time) string {
	ns := now.UnixNano()
	g.mu.Lock()
	if ns <= g.last {
		ns = g.last + 1
	}
	g.last = ns
	g.mu.Unlock()

	var r [idRandLen / 2]byte
	rand.Read(r[:]) // never fails (crypto/rand)
	b := make([]byte, 0, idLen)
	t := strconv.AppendUint(nil, uint64(ns), 16)
	for range idTimeLen - len(t) {
		b = append(b, '0')
	}
	b = append(b, t...)
	b = append(b, '-')
	b = hex.AppendEncode(b, r[:])
	return string(b)
}

// validID reports whether id has the shape of an ID, so that it is safe to
// use as a file name.
func validID(id string) bool {
	if len(id) != idLen || id[idTimeLen] != '-' {
		return false
	}
	for i := range len(id) {
		if i == idTimeLen {
			continue
		}
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
