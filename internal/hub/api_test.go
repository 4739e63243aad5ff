package hub

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/config"
)

func apiOrg(t *testing.T, api string) *config.Org {
	t.Helper()
	text := `
[organization]
default_domain = "example.test"
[[site]]
name = "S"
[[server]]
name = "hub1"
site = "S"
api = "` + api + `"
[[accepted_domain]]
domain = "example.test"
`
	org, err := config.Parse([]byte(text), "test.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return org
}

// The API listener is bound in Open, so a busy port stops the start.
func TestOpenReportsBusyAPIPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Open(apiOrg(t, ln.Addr().String()), "hub1", slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "api listener") {
		t.Fatalf("Open with a busy API port: %v", err)
	}
}

// Run serves the API, with handlers added through API().Handle, and stops
// it at shutdown.
func TestRunServesAPI(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	h, err := Open(apiOrg(t, addr), "hub1", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if h.APIAddr() != addr {
		t.Errorf("APIAddr %q, want %q", h.APIAddr(), addr)
	}
	h.API().Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up 1\n") }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != 200 || body != "up 1\n" {
		t.Errorf("/metrics: %d %q", code, body)
	}
	if code, body := get("/api/v1/address-types"); code != 401 || !strings.Contains(body, `"code":"unauthorized"`) {
		t.Errorf("address types without login: %d %s", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("the API still listens after Run returned")
	}
}
