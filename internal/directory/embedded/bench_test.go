package embedded

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/waypost/waypost/internal/address"
)

// The million-recipient benchmarks (issue 8; docs/performance.md). They
// are benchmarks, so the normal test run does not build their million
// entries; -short skips them too.
//
//	go test -run '^$' -bench 'Import1M|Lookup1M' -benchtime 1x ./internal/directory/embedded   (import)
//	go test -run '^$' -bench Lookup1M -benchtime 1000000x ./internal/directory/embedded        (lookups)

const million = 1_000_000

// writeMillionCSV writes n recipients: mailboxes with a primary and a
// secondary SMTP address, an X500 proxy and, on every tenth, a FAX
// number; every hundredth row is a group of ten mailboxes.
func writeMillionCSV(tb testing.TB, path string, n int) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("kind,name,server,address,address,address,address,member,member,member,member,member,member,member,member,member,member\n")
	for i := 0; i < n; i++ {
		if i%100 == 99 {
			fmt.Fprintf(w, "group,Group %d,,SMTP:group%d@contoso.test,,,", i, i)
			for j := i - 10; j < i; j++ {
				fmt.Fprintf(w, ",user%d@contoso.test", j)
			}
			w.WriteString("\n")
			continue
		}
		fax := ""
		if i%10 == 0 {
			fax = "FAX:+1 555 " + strconv.Itoa(1000000+i)
		}
		fmt.Fprintf(w, "mailbox,User %d,hub%d,SMTP:user%d@contoso.test,smtp:u%d@contoso.test,X500:/o=Contoso/ou=Site%d/cn=user%d,%s,,,,,,,,,,\n", i, i%100, i, i, i%100, i, fax)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
}

// importFile reads and imports a CSV file into a new store at db.
func importFile(tb testing.TB, csvPath, db string) (time.Duration, int) {
	start := time.Now()
	f, err := os.Open(csvPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	recs, err := ReadCSV(f, csvPath)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := Open(db, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	n, err := s.Import(recs, ImportOptions{File: csvPath})
	if err != nil {
		tb.Fatal(err)
	}
	return time.Since(start), n
}

func BenchmarkImport1M(b *testing.B) {
	if testing.Short() {
		b.Skip("a million recipients: not in -short")
	}
	dir := b.TempDir()
	csvPath := filepath.Join(dir, "people.csv")
	writeMillionCSV(b, csvPath, million)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		db := filepath.Join(dir, fmt.Sprintf("d%d.db", i))
		d, n := importFile(b, csvPath, db)
		b.ReportMetric(float64(n)/d.Seconds(), "entries/s")
		b.ReportMetric(d.Seconds(), "s/import")
		if fi, err := os.Stat(db); err == nil {
			b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-file")
		}
		b.ReportMetric(float64(peakRSS())/(1<<20), "MiB-peak-RSS")
		os.Remove(db)
	}
}

var (
	millionOnce sync.Once
	millionDB   string
)

// millionStore returns a store of a million recipients, built once per
// run (kept in the system's temporary folder between runs).
func millionStore(b *testing.B) *Store {
	millionOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "waypost-bench-directory")
		os.MkdirAll(dir, 0o700)
		millionDB = filepath.Join(dir, "million-v1.db")
		if s, err := Open(millionDB, Options{ReadOnly: true}); err == nil {
			n, _ := s.Len()
			s.Close()
			if n == million {
				return
			}
		}
		os.Remove(millionDB)
		csvPath := filepath.Join(dir, "people.csv")
		writeMillionCSV(b, csvPath, million)
		importFile(b, csvPath, millionDB)
		os.Remove(csvPath)
	})
	s, err := Open(millionDB, Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkLookup1M(b *testing.B) {
	if testing.Short() {
		b.Skip("a million recipients: not in -short")
	}
	s := millionStore(b)
	forms := map[string]func(i int) address.Address{
		"smtp-primary": func(i int) address.Address {
			return address.Address{Type: "SMTP", Value: "User" + strconv.Itoa(i) + "@Contoso.test"}
		},
		"smtp-secondary": func(i int) address.Address {
			return address.Address{Type: "SMTP", Value: "u" + strconv.Itoa(i) + "@contoso.test"}
		},
		"ex-via-x500": func(i int) address.Address {
			return address.Address{Type: "EX", Value: "/o=Contoso/ou=Site" + strconv.Itoa(i%100) + "/cn=user" + strconv.Itoa(i)}
		},
		"fax": func(i int) address.Address {
			return address.Address{Type: "FAX", Value: "+1 555 " + strconv.Itoa(1000000+i/10*10)}
		},
		"missing": func(i int) address.Address {
			return address.Address{Type: "SMTP", Value: "nobody" + strconv.Itoa(i) + "@contoso.test"}
		},
	}
	for _, name := range []string{"smtp-primary", "smtp-secondary", "ex-via-x500", "fax", "missing"} {
		form := forms[name]
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			addrs := make([]address.Address, 1<<16)
			for i := range addrs {
				n := rng.IntN(million)
				for n%100 == 99 {
					n = rng.IntN(million)
				}
				addrs[i] = form(n)
			}
			for _, a := range addrs { // warm: the pages a running hub has touched
				s.Find(a)
			}
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e, err := s.Find(addrs[i%len(addrs)])
				if err != nil || (e == nil) != (name == "missing") {
					b.Fatalf("%v: %v %v", addrs[i%len(addrs)], e, err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(rss())/(1<<20), "MiB-RSS")
		})
	}
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(rand.Uint64(), 3))
			for pb.Next() {
				n := rng.IntN(million)
				if n%100 == 99 {
					n--
				}
				if e, _ := s.Find(address.Address{Type: "SMTP", Value: "user" + strconv.Itoa(n) + "@contoso.test"}); e == nil {
					b.Fatal("not found")
				}
			}
		})
	})
	runtime.KeepAlive(s)
}

// cpuTime is the CPU time this process has used (user and system), which
// unlike the wall clock does not grow when other work shares the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss and peakRSS read this process's resident memory from /proc (0
// where there is none).
func rss() int64     { return procStatus("VmRSS:") }
func peakRSS() int64 { return procStatus("VmHWM:") }

func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			f := strings.Fields(line[len(field):])
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
