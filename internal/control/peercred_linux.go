//go:build linux

package control

import (
	"net"
	"syscall"
)

// peerOf asks the kernel who is at the other end of c (SO_PEERCRED).
func peerOf(c *net.UnixConn) Peer {
	p := Peer{UID: -1}
	rc, err := c.SyscallConn()
	if err != nil {
		return p
	}
	rc.Control(func(fd uintptr) {
		cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
		if err == nil {
			p.UID, p.PID = int(cred.Uid), int(cred.Pid)
		}
	})
	p.User = userName(p.UID)
	return p
}
