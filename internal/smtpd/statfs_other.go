//go:build !(linux || darwin || freebsd || dragonfly)

package smtpd

import "errors"

// diskFree is not implemented here: the free space check is skipped.
func diskFree(dir string) (uint64, error) {
	return 0, errors.New("free space of a file system is not known on this system")
}
