package hub

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/waypost/waypost/internal/config"
)

// [[server]] queue_sync reaches the queue, and the hub says at start
// which way it syncs: "auto" (the default) takes syncfs on this machine's
// file systems, "file" keeps fdatasync and folder fsyncs.
func TestQueueSyncSetting(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{"", "sync=filesystem"},
		{`queue_sync = "file"`, "sync=file"},
		{`queue_sync = "filesystem"`, "sync=filesystem"},
	} {
		if c.want == "sync=filesystem" && runtime.GOOS != "linux" {
			continue // syncfs(2) is Linux's
		}
		dir := t.TempDir()
		text := strings.Replace(contactOrg, `data_dir = "data"`, `data_dir = "data"`+"\n"+c.line, 1)
		org, err := config.Parse([]byte(text), filepath.Join(dir, "org.toml"), dir)
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		h, err := Open(org, "hub1", slog.New(slog.NewTextHandler(&log, nil)))
		if err != nil {
			if c.want == "sync=filesystem" && os.Getenv("CI") == "" && strings.Contains(err.Error(), "not safe here") {
				t.Skipf("syncfs cannot be used for %s: %v", dir, err)
			}
			t.Fatal(err)
		}
		h.close()
		if c.line == "" && strings.Contains(log.String(), "queue sync: file, not filesystem") && os.Getenv("CI") == "" {
			t.Skipf("syncfs cannot be used for %s here: %s", dir, log.String())
		}
		var opened string
		for _, l := range strings.Split(log.String(), "\n") {
			if strings.Contains(l, `msg="queue opened"`) {
				opened = l
			}
		}
		if !strings.Contains(opened, " "+c.want) {
			t.Errorf("%q: the start logged %q, want %s", c.line, opened, c.want)
		}
	}
}
