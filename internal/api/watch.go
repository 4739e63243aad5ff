package api

import (
	"sync"
	"time"

	"github.com/waypost/waypost/internal/routing"
)

// engineWatch tells long polls that the hub's engine was replaced (a
// reload): one goroutine, running only while some call waits, loads the
// engine every Config.Poll and closes the current channel when the pointer
// changes. The hub needs to know nothing about it.
type engineWatch struct {
	s       *Server
	mu      sync.Mutex
	eng     *routing.Engine
	changed chan struct{}
	waiters int
	running bool
}

// subscribe returns the engine the watcher holds and a channel closed once
// it is replaced. Call unsubscribe when done waiting.
func (w *engineWatch) subscribe() (*routing.Engine, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiters++
	if !w.running {
		w.running = true
		w.eng = w.s.cfg.Engine()
		w.changed = make(chan struct{})
		go w.run()
	}
	return w.eng, w.changed
}

func (w *engineWatch) unsubscribe() {
	w.mu.Lock()
	w.waiters--
	w.mu.Unlock()
}

func (w *engineWatch) run() {
	t := time.NewTicker(w.s.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-w.s.done:
		case <-t.C:
		}
		eng := w.s.cfg.Engine()
		w.mu.Lock()
		if eng != w.eng {
			w.eng = eng
			close(w.changed)
			w.changed = make(chan struct{})
		}
		stop := w.waiters == 0 || isDone(w.s.done)
		if stop {
			w.running = false
		}
		w.mu.Unlock()
		if stop {
			return
		}
	}
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
