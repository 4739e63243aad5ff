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

	for line, want := range map[string]string{"": "auto", `queue_sync = "file"`: "file", `queue_sync = "filesystem"`: "filesystem"} {
		text := mdBase + "[[accepted_domain]]\ndomain = \"c.test\"\n[[server]]\nname = \"a1\"\nsite = \"A\"\n" + line + "\n"
		org, err := Parse([]byte(text), "org.toml", t.TempDir())
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if got := org.Servers[0].QueueSync; got != want {
			t.Errorf("%q: queue_sync %q, want %q", line, got, want)
		}
	}
}
