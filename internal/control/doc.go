// Package control is the channel between the command line and a running
// hub (interfaces.md section 6: `waypost queue` and `waypost reload` reach
// the hub "through a control socket in its data folder (owner-only
// permissions)"; docs/operations.md, "Queue administration" and "Reload").
//
// # Transport
//
// A unix stream socket, DATA_DIR/control.sock, mode 0600, in a data folder
// of mode 0700. The server checks the peer's credentials (SO_PEERCRED on
// Linux): only the hub's own user and root are served, and the user found
// there, never one the client claims, is the actor written into the
// tracking log for each action.
//
// # Protocol, version 1
//
// Line-delimited JSON. The client sends one request per line and reads one
// response line per request; a connection may carry several in turn.
//
//	request:  {"v":1,"op":"queue.list","args":{...}}
//	response: {"v":1,"ok":true,"result":{...}}
//	          {"v":1,"ok":false,"code":"not_found","error":"...","errors":["...",...]}
//
// When a response has "data":N, exactly N raw bytes follow its line (the
// message of "queue.dump"). A request of another version is answered
// with code "version" and the version the hub speaks; fields unknown to a
// reader are ignored, so that new fields do not need a new version. The
// operations and their arguments and results are the types of this
// package (ops.go).
package control
