// Package testnet gives tests loopback addresses with a known behaviour.
// Nothing outside tests uses it.
package testnet

import (
	"fmt"
	"syscall"
	"testing"
)

// RefusingAddr returns a loopback address (127.0.0.1:port) whose port
// refuses connections for as long as the test runs: a TCP socket bound to
// it that never listens, closed at the test's end. A closed listener's
// port would do only until the kernel gave it to another server (another
// package's test, running in parallel), which would then answer for the
// "down" peer.
func RefusingAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fd) // SOCK_CLOEXEC is not on every system; a test's child need not have it
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	in, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		t.Fatalf("testnet: a bound IPv4 socket has address %T", sa)
	}
	return fmt.Sprintf("127.0.0.1:%d", in.Port)
}
