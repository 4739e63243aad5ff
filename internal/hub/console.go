package hub

import (
	"path/filepath"

	"github.com/waypost/waypost/internal/console"
	"github.com/waypost/waypost/internal/loginlimit"
	"github.com/waypost/waypost/internal/reload"
)

// mountConsole serves the web console (internal/console) under /console/
// on the API listener, with the API's login limiter, so that failed
// sign-ins on either count toward one lockout. Without server.api there
// is no console.
func (h *Hub) mountConsole(logins *loginlimit.Limiter) {
	if h.api == nil {
		return
	}
	c := console.New(console.Config{
		Server:      h.server.Name,
		Engine:      h.engine.Load,
		Auth:        Passwords{Engine: &h.engine},
		Logins:      logins,
		Throttle:    h.api.Throttle(),
		Queue:       h.sched,
		Show:        h.showMessage,
		TrackingLog: filepath.Join(h.server.DataDir, "tracking.log"),
		Status:      h.consoleStatus,
		LastHour:    h.metrics.LastHour,
		Log:         h.log,
	})
	h.api.Handle("/console/", c)
	h.api.Handle("GET /console", c.Redirect())
}

// consoleStatus is the file in force and the last reload, for the console.
func (h *Hub) consoleStatus() console.Status {
	st := h.reloader.Snapshot()
	return console.Status{File: reload.OrgFile(h.engine.Load().Org()), Text: st.Text, Digest: st.Digest, Loaded: st.Loaded,
		Started: h.started, ReloadAt: st.ReloadAt, ReloadActor: st.ReloadActor, Changes: st.Changes, RestartRequired: st.RestartRequired}
}
