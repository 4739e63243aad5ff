//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package smtpd

import (
	"net"
	"syscall"
)

// pendingInput reports whether the client has sent bytes that the kernel
// holds and nobody has read yet. The socket is non-blocking (Go's poller),
// so the peek never waits.
func pendingInput(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var b [1]byte
	n := -1
	err = rc.Read(func(fd uintptr) bool {
		n, _, _ = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		return true
	})
	return err == nil && n > 0
}
