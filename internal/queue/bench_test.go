package queue

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// BenchmarkAdd measures a durable Add: one queue file written and
// fsynced, renamed, and its folder fsynced. The figure is the disk's fsync
// latency more than anything this package does.
func BenchmarkAdd(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			s, _ := openT(b, "")
			body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
			env := testEnvelope()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Add(env, bytes.NewReader(body)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUpdate measures recording an attempt: read, parse, write,
// fsync, rename, folder fsync of one record.
func BenchmarkUpdate(b *testing.B) {
	s, _ := openT(b, "")
	m := addT(b, s, "body")
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Update(m.ID, func(m *Message) error { m.Recipients[0].Attempts++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddParallel measures Add from many writers at once, as when
// many SMTP sessions accept mail together: the writers share the fsyncs
// of msg/ (dirsync.go).
func BenchmarkAddParallel(b *testing.B) {
	cfs := &countFS{}
	s, _, err := open(filepath.Join(b.TempDir(), "queue"), cfs)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	cfs.syncs.Store(0)
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<10/16)
	env := testEnvelope()
	b.SetParallelism(8) // 8 x GOMAXPROCS writers
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Add(env, bytes.NewReader(body)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(cfs.syncs.Load())/float64(b.N), "dirsyncs/op")
}

// countFS is the real file system that counts folder fsyncs.
type countFS struct {
	osFS
	syncs atomic.Int64
}

func (c *countFS) SyncDir(dir string) error {
	c.syncs.Add(1)
	return c.osFS.SyncDir(dir)
}
