package hub

import (
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
)

// A peer whose last copy failed is tried after the others for the glitch
// retry interval, and in its turn again after a success.
func TestShadowPeerOrder(t *testing.T) {
	org := &config.Org{GlitchRetryInterval: time.Minute}
	a, b, c := &config.Server{Name: "hub-a"}, &config.Server{Name: "hub-b"}, &config.Server{Name: "hub-c"}
	s := &shadows{}
	names := func() string {
		out := ""
		for _, p := range s.usable(org, []*config.Server{a, b, c}) {
			out += p.Name + " "
		}
		return out
	}
	if got := names(); got != "hub-a hub-b hub-c " {
		t.Errorf("at first: %s", got)
	}
	s.mark("hub-a", false)
	if got := names(); got != "hub-b hub-c hub-a " {
		t.Errorf("after hub-a failed: %s", got)
	}
	s.failed["hub-a"] = time.Now().Add(-2 * time.Minute)
	if got := names(); got != "hub-a hub-b hub-c " {
		t.Errorf("after the glitch retry interval: %s", got)
	}
	s.mark("hub-b", false)
	s.mark("hub-b", true)
	if got := names(); got != "hub-a hub-b hub-c " {
		t.Errorf("after hub-b answered again: %s", got)
	}
}
