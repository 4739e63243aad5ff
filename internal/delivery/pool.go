package delivery

import (
	"sync"
	"time"
)

// Pool keeps SMTP connections open between messages, so that one
// connection carries many (Postfix's connection cache: an idle connection
// is kept smtp_connection_cache_time_limit, 2s, and the next message to
// the same host takes it). A hub has one Pool, shared by every SMTP agent
// and scheduler worker; it is safe for concurrent use.
//
// Connections are keyed by everything that shaped their session: host,
// EHLO name, TLS mode and configuration, and the identity that logged in
// (AUTH user or hub proof). Only a connection at a transaction boundary
// (after the reply to the final dot, or after RSET) is put back.
type Pool struct {
	IdleTime time.Duration // how long an idle connection is kept (default 2s)
	MaxIdle  int           // idle connections kept per key (default DefaultPoolMaxIdle)
	MaxAge   time.Duration // a connection older than this is not reused (default 5m)

	mu     sync.Mutex
	idle   map[string][]*conn
	closed bool
}

// Pool defaults. MaxIdle must be at least the number of deliveries to one
// destination that can run at once (a hub's scheduler workers): with
// fewer, the connections given back together beyond MaxIdle are ended
// with QUIT and the next messages dial new ones, so that a backlog spends
// its time connecting (docs/performance.md, "Queue engine at 100,000
// queued messages"). A hub sets it to its worker count; the default is
// the scheduler's default worker count.
const (
	DefaultPoolIdleTime = 2 * time.Second
	DefaultPoolMaxIdle  = 16
	DefaultPoolMaxAge   = 5 * time.Minute
)

// conn is one SMTP session, ready for MAIL.
type conn struct {
	c      *client
	key    string
	born   time.Time
	reused bool        // taken from the pool, so it may have died meanwhile
	tls    string      // the TLS policy it was opened under (Result.TLS)
	timer  *time.Timer // closes it when it stays idle too long
}

// quit ends the session politely, waiting a short time for the reply:
// 5 seconds, or the client's timeout when that is shorter.
func (cn *conn) quit() {
	cn.c.timeout = min(cn.c.timeout, 5*time.Second)
	safely(cn.c.log, "ending an SMTP session", cn.c.quit)
}

// get takes an idle connection of key, or returns nil.
func (p *Pool) get(key string) *conn {
	if p == nil {
		return nil
	}
	maxAge := orDuration(p.MaxAge, DefaultPoolMaxAge)
	p.mu.Lock()
	defer p.mu.Unlock()
	for list := p.idle[key]; len(list) > 0; list = p.idle[key] {
		cn := list[len(list)-1] // the most recently used is the likeliest alive
		p.idle[key] = list[:len(list)-1]
		cn.timer.Stop()
		if time.Since(cn.born) > maxAge {
			go cn.quit()
			continue
		}
		cn.reused = true
		return cn
	}
	return nil
}

// put keeps cn for the next message to its key, or ends it when the pool
// is closed or full or cn is too old. A session whose server said more
// than its replies is closed, not kept: the extra reply would be taken
// for the answer to the next message's MAIL.
func (p *Pool) put(cn *conn) {
	if p == nil {
		cn.quit()
		return
	}
	if cn.c.r.Buffered() > 0 {
		cn.c.close()
		return
	}
	maxIdle := p.MaxIdle
	if maxIdle <= 0 {
		maxIdle = DefaultPoolMaxIdle
	}
	p.mu.Lock()
	if p.closed || len(p.idle[cn.key]) >= maxIdle || time.Since(cn.born) > orDuration(p.MaxAge, DefaultPoolMaxAge) {
		p.mu.Unlock()
		cn.quit()
		return
	}
	if p.idle == nil {
		p.idle = map[string][]*conn{}
	}
	p.idle[cn.key] = append(p.idle[cn.key], cn)
	cn.timer = time.AfterFunc(orDuration(p.IdleTime, DefaultPoolIdleTime), func() {
		safely(cn.c.log, "ending an idle SMTP session", func() { p.expire(cn) })
	})
	p.mu.Unlock()
}

// expire ends cn if it is still idle in the pool.
func (p *Pool) expire(cn *conn) {
	p.mu.Lock()
	list := p.idle[cn.key]
	found := false
	for i, c := range list {
		if c == cn {
			p.idle[cn.key] = append(list[:i:i], list[i+1:]...)
			found = true
			break
		}
	}
	if len(p.idle[cn.key]) == 0 {
		delete(p.idle, cn.key)
	}
	p.mu.Unlock()
	if found {
		cn.quit()
	}
}

// Idle returns the number of idle connections the pool holds.
func (p *Pool) Idle() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, list := range p.idle {
		n += len(list)
	}
	return n
}

// Close ends every idle connection (QUIT) and makes the pool keep no more:
// connections given back later are ended at once. It waits for the QUITs.
func (p *Pool) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	p.closed = true
	var wg sync.WaitGroup
	for key, list := range p.idle {
		for _, cn := range list {
			cn.timer.Stop()
			wg.Go(cn.quit)
		}
		delete(p.idle, key)
	}
	p.mu.Unlock()
	wg.Wait()
	return nil
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
