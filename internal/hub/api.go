package hub

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/waypost/waypost/internal/api"
)

// openAPI binds the HTTP API of the server (server.api), in Open, so that
// a busy port is reported before anything runs. Without server.api there
// is no API.
func (h *Hub) openAPI() error {
	if h.server.API == "" {
		return nil
	}
	ln, err := net.Listen("tcp", h.server.API)
	if err != nil {
		return fmt.Errorf("api listener: %w", err)
	}
	h.api = api.New(api.Config{Server: h.server.Name, Engine: h.engine.Load, Auth: Passwords{Engine: &h.engine},
		Mailboxes: h.maildir, Log: h.log, Logins: h.logins}) // the hub's one limiter (auth.go)
	h.apiLn = ln
	h.mountConsole(h.logins)
	return nil
}

// API returns the HTTP API server, or nil when the server has none; its
// Handle adds handlers (such as /metrics) on the same listener.
func (h *Hub) API() *api.Server { return h.api }

// APIAddr returns the address the API listens on, or "".
func (h *Hub) APIAddr() string {
	if h.apiLn == nil {
		return ""
	}
	return h.apiLn.Addr().String()
}

// runAPI serves the API until stopAPI; an error is sent on errs.
func (h *Hub) runAPI(errs chan<- error) {
	if h.api == nil {
		return
	}
	h.log.Info("api listening", "addr", h.APIAddr())
	go func() {
		if err := h.api.Serve(h.apiLn); err != nil && !errors.Is(err, net.ErrClosed) {
			errs <- fmt.Errorf("api: %w", err)
		}
	}()
}

// stopAPI ends long polls at once and waits for calls under way; drained
// is false when some were cut off at ctx's end.
func (h *Hub) stopAPI(ctx context.Context) (drained bool) {
	if h.api == nil {
		return true
	}
	if err := h.api.Shutdown(ctx); err != nil {
		h.log.Warn("api shutdown", "err", err)
		return false
	}
	return true
}
