package control

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
)

// Version is the protocol version this code speaks.
const Version = 1

// SocketName is the file name of the control socket in a hub's data folder.
const SocketName = "control.sock"

// maxLine bounds a request or response line (a listing of a large queue
// is long; a request never is).
const (
	maxRequest  = 1 << 20
	maxResponse = 256 << 20
)

// maxSocketPath is the longest path a unix socket may have on Linux
// (sun_path holds 108 bytes with the terminating NUL).
const maxSocketPath = 107

// SocketPath returns the control socket of the hub whose data folder is
// dataDir.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, SocketName) }

// CheckPath reports whether path can name a unix socket, with a fix when
// it cannot.
func CheckPath(path string) error {
	if len(path) > maxSocketPath {
		return fmt.Errorf("control socket %s is %d bytes long; unix sockets allow %d: choose a shorter data_dir", path, len(path), maxSocketPath)
	}
	return nil
}

// Request is one line from the client.
type Request struct {
	V    int             `json:"v"`
	Op   string          `json:"op"`
	Args json.RawMessage `json:"args,omitempty"`
}

// Response is one line from the hub.
type Response struct {
	V      int             `json:"v"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result,omitempty"`
	Data   int64           `json:"data,omitempty"` // raw bytes that follow the line
	Code   string          `json:"code,omitempty"`
	Error  string          `json:"error,omitempty"`
	Errors []string        `json:"errors,omitempty"`
}

// Error codes of a failed response.
const (
	CodeBadRequest = "bad_request" // arguments that do not parse or make no sense
	CodeUnknownOp  = "unknown_op"
	CodeVersion    = "version"   // a protocol version the hub does not speak
	CodeForbidden  = "forbidden" // a peer that is neither the hub's user nor root
	CodeNotFound   = "not_found" // no such message or queue
	CodeBusy       = "busy"      // a delivery of the message is under way
	CodeInvalid    = "invalid"   // reload: the organization file has errors (Errors lists them)
	CodeInternal   = "internal"
)

// Error is a failed response, as the client sees it and as a handler
// returns it.
type Error struct {
	Code   string
	Msg    string
	Errors []string // every problem, for CodeInvalid
}

func (e *Error) Error() string {
	if len(e.Errors) == 0 {
		return e.Msg
	}
	return e.Msg + ":\n  " + strings.Join(e.Errors, "\n  ")
}

// Errorf makes an *Error of code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}
