package api

import (
	"net/http"

	"github.com/waypost/waypost/internal/routing"
)

// resolveRequest is the body of POST /api/v1/resolve.
type resolveRequest struct {
	Recipients []string `json:"recipients"`
	Size       int64    `json:"size,omitempty"`    // message size in bytes, as `waypost route --size`
	Explain    bool     `json:"explain,omitempty"` // as `waypost route --explain`
}

// resolveAnswer is its answer: one decision per recipient, in order, each
// the object `waypost route` prints for it.
type resolveAnswer struct {
	Results []routing.Decision `json:"results"`
}

// maxResolve bounds the recipients of one call.
const maxResolve = 1000

// resolve serves POST /api/v1/resolve: every recipient is routed as the
// caller's home server would route it.
func (s *Server) resolve(w http.ResponseWriter, r *http.Request, eng *routing.Engine, c *caller) {
	var req resolveRequest
	if !decodeBody(w, r, s.cfg.MaxBody, &req) {
		return
	}
	if req.Recipients == nil {
		writeError(w, http.StatusBadRequest, CodeBadJSON, `the body needs "recipients": an array of addresses`)
		return
	}
	if len(req.Recipients) > maxResolve {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "%d recipients in one call; at most %d", len(req.Recipients), maxResolve)
		return
	}
	if req.Size < 0 {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "size %d is negative", req.Size)
		return
	}
	if c.home == nil {
		writeError(w, http.StatusConflict, CodeNoHomeServer, "mailbox %s has home server %q, which the organization does not have", c.mailbox, c.entry.Server)
		return
	}
	out := resolveAnswer{Results: make([]routing.Decision, len(req.Recipients))}
	for i, rcpt := range req.Recipients {
		out.Results[i] = eng.Route(c.home.Name, rcpt, req.Size, req.Explain)
	}
	writeJSON(w, http.StatusOK, out)
}
