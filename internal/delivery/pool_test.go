package delivery

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func smtpTo(addr string) Recipient { return Recipient{Type: "SMTP", Address: addr} }

// One connection carries many messages: N messages in a row reach the
// server over one connection with a pool, over N without.
func TestPoolOneConnectionManyMessages(t *testing.T) {
	const n = 5
	for _, pooled := range []bool{true, false} {
		ts := startTestServer(t, "", false)
		var pool *Pool
		if pooled {
			pool = &Pool{IdleTime: 5 * time.Second}
			defer pool.Close()
		}
		a := &SMTP{Hosts: []string{ts.addr}, Helo: "hub1.contoso.test", Timeout: 5 * time.Second, Pool: pool}
		for i := range n {
			res := a.Deliver(context.Background(), message(fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i), smtpTo("carol@fabrikam.test")))
			if res[0].Class != Relayed {
				t.Fatalf("message %d: %+v", i, res[0])
			}
		}
		accepted, _, got := ts.counts()
		want := n
		if pooled {
			want = 1
		}
		if accepted != want || got != n {
			t.Errorf("pooled=%v: %d connections for %d messages, want %d", pooled, accepted, got, want)
		}
	}
}

// A transaction with every recipient refused is abandoned with RSET and
// the connection carries the next message.
func TestPoolReuseAfterRefusedRecipients(t *testing.T) {
	ts := startTestServer(t, "", false)
	pool := &Pool{IdleTime: 5 * time.Second}
	defer pool.Close()
	a := &SMTP{Hosts: []string{ts.addr}, Timeout: 5 * time.Second, Pool: pool}
	if res := a.Deliver(context.Background(), message("x\r\n", smtpTo("bad@fabrikam.test"))); res[0].Class != Failed {
		t.Fatalf("%+v", res[0])
	}
	if res := a.Deliver(context.Background(), message("y\r\n", smtpTo("carol@fabrikam.test"))); res[0].Class != Relayed {
		t.Fatalf("%+v", res[0])
	}
	if accepted, _, got := ts.counts(); accepted != 1 || got != 1 {
		t.Errorf("%d connections, %d messages; want 1 and 1", accepted, got)
	}
}

// A kept connection that the server dropped is replaced by a fresh one
// without the recipient noticing: the message is delivered, once.
func TestPoolDeadConnectionReplaced(t *testing.T) {
	ts := startTestServer(t, "", false)
	pool := &Pool{IdleTime: 5 * time.Second}
	defer pool.Close()
	a := &SMTP{Hosts: []string{ts.addr}, Timeout: 5 * time.Second, Pool: pool}
	if res := a.Deliver(context.Background(), message("1\r\n", smtpTo("carol@fabrikam.test"))); res[0].Class != Relayed {
		t.Fatalf("%+v", res[0])
	}
	if pool.Idle() != 1 {
		t.Fatalf("the pool keeps %d connections, want 1", pool.Idle())
	}
	ts.dropAll()
	res := a.Deliver(context.Background(), message("2\r\n", smtpTo("carol@fabrikam.test")))
	if res[0].Class != Relayed {
		t.Fatalf("after the server dropped the kept connection: %+v", res[0])
	}
	if accepted, _, got := ts.counts(); accepted != 2 || got != 2 {
		t.Errorf("%d connections, %d messages; want 2 and 2", accepted, got)
	}
}

// An idle connection is ended after IdleTime; a closed pool keeps none.
func TestPoolIdleTimeAndClose(t *testing.T) {
	ts := startTestServer(t, "", false)
	pool := &Pool{IdleTime: 50 * time.Millisecond}
	a := &SMTP{Hosts: []string{ts.addr}, Timeout: 5 * time.Second, Pool: pool}
	a.Deliver(context.Background(), message("1\r\n", smtpTo("carol@fabrikam.test")))
	if pool.Idle() != 1 {
		t.Fatalf("idle %d, want 1", pool.Idle())
	}
	deadline := time.Now().Add(5 * time.Second)
	for pool.Idle() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if pool.Idle() != 0 {
		t.Fatal("the idle connection was kept past IdleTime")
	}
	a.Deliver(context.Background(), message("2\r\n", smtpTo("carol@fabrikam.test")))
	pool.Close()
	if pool.Idle() != 0 {
		t.Error("Close left an idle connection")
	}
	a.Deliver(context.Background(), message("3\r\n", smtpTo("carol@fabrikam.test")))
	if pool.Idle() != 0 {
		t.Error("a closed pool kept a connection")
	}
	if accepted, _, got := ts.counts(); accepted != 3 || got != 3 {
		t.Errorf("%d connections, %d messages; want 3 and 3", accepted, got)
	}
}

// Several workers share the pool (run with -race): every message arrives,
// over no more connections than workers, and no more than MaxIdle stay.
func TestPoolConcurrentWorkers(t *testing.T) {
	const workers, each = 6, 8
	ts := startTestServer(t, "", false)
	pool := &Pool{IdleTime: 5 * time.Second, MaxIdle: 4}
	defer pool.Close()
	var wg sync.WaitGroup
	errs := make(chan string, workers*each)
	for w := range workers {
		wg.Go(func() {
			a := &SMTP{Hosts: []string{ts.addr}, Timeout: 5 * time.Second, Pool: pool}
			for i := range each {
				res := a.Deliver(context.Background(), message(fmt.Sprintf("%d-%d\r\n", w, i), smtpTo("carol@fabrikam.test")))
				if res[0].Class != Relayed {
					errs <- fmt.Sprintf("worker %d message %d: %+v", w, i, res[0])
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	accepted, _, got := ts.counts()
	if got != workers*each {
		t.Errorf("%d messages arrived, want %d", got, workers*each)
	}
	if accepted > workers*each/2 {
		t.Errorf("%d connections for %d messages: the pool is not reused", accepted, got)
	}
	if pool.Idle() > 4 {
		t.Errorf("%d idle connections kept, MaxIdle is 4", pool.Idle())
	}
}

// Agents with another login or TLS mode do not share connections.
func TestPoolKeyedBySettings(t *testing.T) {
	ts := startTestServer(t, "", false)
	pool := &Pool{IdleTime: 5 * time.Second}
	defer pool.Close()
	plain := &SMTP{Hosts: []string{ts.addr}, Timeout: 5 * time.Second, Pool: pool}
	other := &SMTP{Hosts: []string{ts.addr}, Timeout: 5 * time.Second, Pool: pool, TLS: "none"}
	plain.Deliver(context.Background(), message("1\r\n", smtpTo("carol@fabrikam.test")))
	other.Deliver(context.Background(), message("2\r\n", smtpTo("carol@fabrikam.test")))
	plain.Deliver(context.Background(), message("3\r\n", smtpTo("carol@fabrikam.test")))
	if accepted, _, _ := ts.counts(); accepted != 2 {
		t.Errorf("%d connections, want 2 (one per setting)", accepted)
	}
}

// The pool keeps, by default, as many idle connections per destination as
// a hub's scheduler runs deliveries at once (scheduler.DefaultWorkers is
// 16): sessions given back together all stay, none is ended only for the
// next message to dial again.
func TestPoolKeepsAConnectionPerWorker(t *testing.T) {
	const workers = 16
	ts := startTestServer(t, "", false)
	pool := &Pool{IdleTime: 5 * time.Second}
	defer pool.Close()
	a := &SMTP{Hosts: []string{ts.addr}, Timeout: 5 * time.Second, Pool: pool}
	conns := make([]*conn, workers)
	for i := range conns {
		cn, fail := a.dial(context.Background(), ts.addr)
		if fail != nil {
			t.Fatalf("dial %d: %+v", i, fail)
		}
		conns[i] = cn
	}
	for _, cn := range conns {
		pool.put(cn)
	}
	if n := pool.Idle(); n != workers {
		t.Fatalf("%d idle connections kept after %d were given back together, want %d", n, workers, workers)
	}
	// The next round of deliveries takes them: no new connection.
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			if res := a.Deliver(context.Background(), message(fmt.Sprintf("%d\r\n", w), smtpTo("carol@fabrikam.test"))); res[0].Class != Relayed {
				t.Errorf("worker %d: %+v", w, res[0])
			}
		})
	}
	wg.Wait()
	if accepted, _, got := ts.counts(); accepted != workers || got != workers {
		t.Errorf("%d connections for %d messages, want %d (the kept ones)", accepted, got, workers)
	}
}
