package ldapdir

import (
	"sync"
	"time"

	"github.com/waypost/waypost/internal/directory"
)

// cache keeps answers for a short time: found entries for pos, "not found"
// for neg. It is bounded: when full it starts again empty.
type cache struct {
	pos, neg time.Duration
	mu       sync.Mutex
	m        map[string]cached
}

type cached struct {
	e       *directory.Entry // nil: not found
	s       string           // a member DN's address
	expires time.Time
}

const cacheMax = 100_000

func newCache(pos, neg time.Duration) *cache {
	return &cache{pos: pos, neg: neg, m: map[string]cached{}}
}

func (c *cache) get(key string) (cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	if !ok {
		return cached{}, false
	}
	if time.Now().After(v.expires) {
		delete(c.m, key)
		return cached{}, false
	}
	return v, true
}

func (c *cache) put(key string, v cached) {
	ttl := c.pos
	if v.e == nil && v.s == "" {
		ttl = c.neg
	}
	if ttl <= 0 {
		return
	}
	v.expires = time.Now().Add(ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= cacheMax {
		c.m = map[string]cached{}
	}
	c.m[key] = v
}
