//go:build linux

// Package floor measures what the system calls a relayed message cannot do
// without cost in CPU on this machine, with nothing of Waypost around them:
// the floor under the hub's CPU per message that bench/relay.sh reports
// (docs/performance.md, "The floor under a relayed message").
//
//	go test -run '^$' -bench . -benchtime 3000x ./bench/floor/
//	TMPDIR=/mnt/wpbench go test -run '^$' -bench . ./bench/floor/   # another file system
//
// Each benchmark reports cpu-µs/op: the process's user and system time
// (getrusage(2)) per operation, the figure bench/relay.sh reads from /proc
// for the hub. The files go under TMPDIR, the sockets on loopback.
package floor

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// cpuTime returns the CPU time the process has used, in microseconds.
func cpuTime(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e3
}

// machineBusy returns the time every CPU of the machine has been busy,
// in microseconds (proc(5), /proc/stat: user, nice, system, irq, softirq),
// or -1 where there is no /proc/stat.
func machineBusy() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	var user, nice, system, idle, iowait, irq, softirq float64
	if _, err := fmt.Sscanf(string(data), "cpu %f %f %f %f %f %f %f", &user, &nice, &system, &idle, &iowait, &irq, &softirq); err != nil {
		return -1
	}
	return (user + nice + system + irq + softirq) * 1e6 / 100 // USER_HZ is 100 on Linux
}

// measure runs op b.N times and reports its CPU per operation.
func measure(b *testing.B, op func(i int)) {
	b.Helper()
	start, machine := cpuTime(b), machineBusy()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op(i)
	}
	b.StopTimer()
	b.ReportMetric((cpuTime(b)-start)/float64(b.N), "cpu-µs/op")
	if machine >= 0 {
		b.ReportMetric((machineBusy()-machine)/float64(b.N), "machine-µs/op")
	}
}

// message is a relayed message as the benchmarks send it: 2 KiB of
// content and about 500 bytes of record, as a queue file holds them.
var message = make([]byte, 2048+500)

func dir(b *testing.B) string {
	d, err := os.MkdirTemp("", "waypost-floor-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// BenchmarkNewFile is the least a queue that keeps a file per message does
// to make one durable: create, write, fdatasync, close, rename (the folder
// fsync, shared by the messages of a group commit, is apart).
func BenchmarkNewFile(b *testing.B) {
	d := dir(b)
	measure(b, func(i int) {
		tmp := filepath.Join(d, fmt.Sprint("tmp-", i))
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(message); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		f.Close()
		if err := os.Rename(tmp, filepath.Join(d, fmt.Sprint("m-", i))); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkReusedFile is the same with a removed file written over
// (Waypost's reuse of queue files): no inode or block allocated.
func BenchmarkReusedFile(b *testing.B) {
	d := dir(b)
	for i := 0; i < b.N; i++ {
		if err := os.WriteFile(filepath.Join(d, fmt.Sprint("free-", i)), message, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	syncDir(b, d)
	measure(b, func(i int) {
		free := filepath.Join(d, fmt.Sprint("free-", i))
		f, err := os.OpenFile(free, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.WriteAt(message, 0); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		f.Close()
		if err := os.Rename(free, filepath.Join(d, fmt.Sprint("m-", i))); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkFolderFsync is one fsync of a folder with a new name in it.
func BenchmarkFolderFsync(b *testing.B) {
	d := dir(b)
	measure(b, func(i int) {
		f, err := os.Create(filepath.Join(d, fmt.Sprint("n-", i)))
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		syncDir(b, d)
	})
}

// BenchmarkSharedLog is ten messages written into one preallocated file
// and made durable by one fdatasync, per message: what a queue that
// appends messages to a log of segments would pay.
func BenchmarkSharedLog(b *testing.B) {
	d := dir(b)
	f, err := os.OpenFile(filepath.Join(d, "segment"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for off := int64(0); off < int64(b.N+10)*int64(len(message)); off += int64(len(message)) {
		if _, err := f.WriteAt(message, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	measure(b, func(i int) {
		if _, err := f.WriteAt(message, int64(i)*int64(len(message))); err != nil {
			b.Fatal(err)
		}
		if i%10 == 9 {
			if err := syscall.Fdatasync(int(f.Fd())); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSyncFSGroup is ten removed files written over, made durable
// by one syncfs(2) of the file system, renamed, and their names made
// durable by a second syncfs, per message: the queue with queue_sync
// "filesystem" when ten messages finish together (internal/queue,
// "Syncing"). Against BenchmarkReusedFile plus a share of
// BenchmarkFolderFsync, its queue_sync "file".
func BenchmarkSyncFSGroup(b *testing.B) {
	d := dir(b)
	n := (b.N + 9) / 10 * 10
	for i := 0; i < n; i++ {
		if err := os.WriteFile(filepath.Join(d, fmt.Sprint("free-", i)), message, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	syncDir(b, d)
	fsd, err := os.Open(d)
	if err != nil {
		b.Fatal(err)
	}
	defer fsd.Close()
	syncfs := func() {
		if err := unix.Syncfs(int(fsd.Fd())); err != nil {
			b.Fatal(err)
		}
	}
	measure(b, func(i int) {
		f, err := os.OpenFile(filepath.Join(d, fmt.Sprint("free-", i)), os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.WriteAt(message, 0); err != nil {
			b.Fatal(err)
		}
		f.Close()
		if i%10 != 9 && i != b.N-1 {
			return
		}
		syncfs()
		for j := i - i%10; j <= i; j++ {
			if err := os.Rename(filepath.Join(d, fmt.Sprint("free-", j)), filepath.Join(d, fmt.Sprint("m-", j))); err != nil {
				b.Fatal(err)
			}
		}
		syncfs()
	})
}

// BenchmarkUnlink is the removal of a 2.5 KiB file.
func BenchmarkUnlink(b *testing.B) {
	d := dir(b)
	for i := 0; i < b.N; i++ {
		if err := os.WriteFile(filepath.Join(d, fmt.Sprint("m-", i)), message, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	syncDir(b, d)
	measure(b, func(i int) {
		if err := os.Remove(filepath.Join(d, fmt.Sprint("m-", i))); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkCommandReply is one SMTP command and its reply over loopback,
// both ends in this process (a write and a read on each side, the
// runtime's network poller between): a relayed message has about seven
// on the receiving side (greeting, EHLO, MAIL, RCPT, DATA, the end of the
// data, QUIT) and three or four on the delivering side (pipelined).
func BenchmarkCommandReply(b *testing.B) {
	addr := serve(b, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			if _, err := r.ReadSlice('\n'); err != nil {
				return
			}
			if _, err := c.Write([]byte("250 2.1.0 Sender OK\r\n")); err != nil {
				return
			}
		}
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	cmd := []byte("MAIL FROM:<alice@contoso.test>\r\n")
	measure(b, func(int) {
		if _, err := c.Write(cmd); err != nil {
			b.Fatal(err)
		}
		if _, err := r.ReadSlice('\n'); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkConnection is one SMTP connection with no message: connect
// and accept, the greeting, HELO and its reply, QUIT and its reply, and
// both ends' close, both ends in this process. bench/relay.sh's load
// (smtp-source, one connection per message) adds one of these to every
// message the hub relays, besides its MAIL, RCPT, DATA and data.
func BenchmarkConnection(b *testing.B) {
	addr := serve(b, func(c net.Conn) {
		r := bufio.NewReader(c)
		if _, err := c.Write([]byte("220 hub.contoso.test ESMTP\r\n")); err != nil {
			return
		}
		for _, reply := range []string{"250 hub.contoso.test\r\n", "221 2.0.0 Bye\r\n"} { // HELO, QUIT
			if _, err := r.ReadSlice('\n'); err != nil {
				return
			}
			if _, err := c.Write([]byte(reply)); err != nil {
				return
			}
		}
	})
	measure(b, func(int) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		r := bufio.NewReader(c)
		for _, cmd := range []string{"", "HELO source.fabrikam.test\r\n", "QUIT\r\n"} {
			if cmd != "" {
				if _, err := c.Write([]byte(cmd)); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := r.ReadSlice('\n'); err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
	})
}

// serve accepts connections on a loopback port until the benchmark ends,
// each handled by handle on its own goroutine and closed after, and
// returns the address.
func serve(b *testing.B, handle func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func syncDir(b *testing.B, d string) {
	f, err := os.Open(d)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
}
