package config

import "testing"

// queue_sync is "auto" unless set; a value that is not a way to sync is
// reported on its line with the choices.
func TestQueueSync(t *testing.T) {
	errs := parseErrs(t, mdBase+`[[server]]
name = "a1"
site = "A"
queue_sync = "fsync"
`)
	want(t, errs, 8, `queue_sync "fsync" is not a way to sync the queue`)
	want(t, errs, 8, `"auto" (the default), "filesystem" or "file"`)

	org, err := Parse([]byte(`[organization]
default_domain = "c.test"
hub_secret_file = "hub.secret"
[[accepted_domain]]
domain = "c.test"
type = "authoritative"
[[site]]
name = "A"
[[server]]
name = "a1"
site = "A"
[[server]]
name = "a2"
site = "A"
queue_sync = "file"
[[server]]
name = "a3"
site = "A"
queue_sync = "filesystem"
`), "org.toml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []string{"auto", "file", "filesystem"} {
		if got := org.Servers[i].QueueSync; got != w {
			t.Errorf("server %d: queue_sync %q, want %q", i, got, w)
		}
	}
}
