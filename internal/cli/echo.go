package cli

import "golang.org/x/sys/unix"

// echoOff turns off the echo of the terminal fd, keeping its line editing,
// and returns what turns it back on. askPassword calls it before it
// prints its prompt: what is typed (or pasted) as soon as the prompt
// shows is never echoed, whereas term.ReadPassword alone turns echo off
// only after the prompt is out.
func echoOff(fd int) (restore func(), err error) {
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return nil, err
	}
	t := *old
	t.Lflag &^= unix.ECHO
	t.Lflag |= unix.ICANON | unix.ISIG
	t.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &t); err != nil {
		return nil, err
	}
	return func() { unix.IoctlSetTermios(fd, ioctlSetTermios, old) }, nil
}
