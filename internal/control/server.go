package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"
)

// Peer is the process at the other end of a control connection, as the
// kernel tells it.
type Peer struct {
	UID  int    // -1 when the system cannot tell
	PID  int    // 0 when unknown
	User string // the user name of UID, or "" when it has none
}

// String names the peer for logs and the tracking log: "alice (uid 1000)".
func (p Peer) String() string {
	switch {
	case p.UID < 0:
		return "unknown user"
	case p.User == "":
		return "uid " + strconv.Itoa(p.UID)
	}
	return p.User + " (uid " + strconv.Itoa(p.UID) + ")"
}

// Reply is what a handler answers: a result (any JSON value) and, for
// the raw message of a dump, Size bytes read from Data after the line.
type Reply struct {
	Result any
	Data   io.ReadCloser
	Size   int64
}

// Handler serves one request. An error that is an *Error goes to the
// client as it is; any other is answered with CodeInternal.
type Handler func(ctx context.Context, p Peer, op string, args json.RawMessage) (*Reply, error)

// Server serves the control socket.
type Server struct {
	path string
	ln   *net.UnixListener
	log  *slog.Logger
	uid  int // the hub's own user

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

// Listen creates the control socket at path with mode 0600. A socket left
// there by a hub that died is replaced: the caller must hold the data
// folder (the queue lock) so that no live hub owns it.
func Listen(path string, log *slog.Logger) (*Server, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("control socket: %s exists and is not a socket; move it away", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control socket: removing the stale %s: %w", path, err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{path: path, ln: ln, log: log, uid: os.Getuid(), ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}, nil
}

// Path returns where the socket is.
func (s *Server) Path() string { return s.path }

// Serve accepts connections until Close and serves each with h. It
// returns nil after Close.
func (s *Server) Serve(h Handler) error {
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("control socket: %w", err)
		}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serveConn(c, h)
		}()
	}
}

// Close stops accepting, removes the socket, ends the requests under way
// (their context is cancelled) and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.cancel()
	err := s.ln.Close()
	for c := range s.conns {
		c.SetReadDeadline(time.Now()) // idle connections wake and end
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) serveConn(c *net.UnixConn, h Handler) {
	p := peerOf(c)
	w := bufio.NewWriter(c)
	r := bufio.NewReaderSize(c, 64<<10)
	if p.UID >= 0 && p.UID != s.uid && p.UID != 0 {
		s.log.Warn("control socket: refused a peer that is neither the hub's user nor root", "peer", p.String(), "pid", p.PID)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		readLine(r, maxRequest) // the request, unread, so that the client sees the answer
		writeResponse(w, &Response{V: Version, Code: CodeForbidden,
			Error: fmt.Sprintf("%s may not control this hub; run the command as uid %d or as root", p, s.uid)}, nil, 0)
		return
	}
	for {
		line, err := readLine(r, maxRequest)
		if err != nil {
			if !errors.Is(err, io.EOF) && s.ctx.Err() == nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				writeResponse(w, &Response{V: Version, Code: CodeBadRequest, Error: err.Error()}, nil, 0)
			}
			return
		}
		var req Request
		if err := json.Unmarshal(line, &req); err != nil {
			writeResponse(w, &Response{V: Version, Code: CodeBadRequest, Error: "request is not a JSON object: " + err.Error()}, nil, 0)
			return
		}
		if req.V != Version {
			writeResponse(w, &Response{V: Version, Code: CodeVersion,
				Error: fmt.Sprintf("this hub speaks control protocol version %d, the client version %d: use the waypost binary of the same release", Version, req.V)}, nil, 0)
			return
		}
		if !s.answer(w, p, &req, h) {
			return
		}
	}
}

// answer runs one request and writes its response; it reports whether the
// connection can go on.
func (s *Server) answer(w *bufio.Writer, p Peer, req *Request, h Handler) bool {
	rep, err := s.call(p, req, h)
	resp := &Response{V: Version, OK: err == nil}
	if err != nil {
		var ce *Error
		if !errors.As(err, &ce) {
			s.log.Error("control request failed", "op", req.Op, "peer", p.String(), "err", err)
			ce = &Error{Code: CodeInternal, Msg: err.Error()}
		}
		resp.Code, resp.Error, resp.Errors = ce.Code, ce.Msg, ce.Errors
		return writeResponse(w, resp, nil, 0) == nil
	}
	if rep == nil {
		rep = &Reply{}
	}
	if rep.Data != nil {
		defer rep.Data.Close()
		resp.Data = rep.Size
	}
	if rep.Result != nil {
		b, err := json.Marshal(rep.Result)
		if err != nil {
			resp = &Response{V: Version, Code: CodeInternal, Error: "encoding the result: " + err.Error()}
			return writeResponse(w, resp, nil, 0) == nil
		}
		resp.Result = b
	}
	if err := writeResponse(w, resp, rep.Data, rep.Size); err != nil {
		s.log.Warn("control socket: answer cut short", "op", req.Op, "peer", p.String(), "err", err)
		return false
	}
	return true
}

// call runs h, turning a panic into an error: a bad request must never
// take the hub down.
func (s *Server) call(p Peer, req *Request, h Handler) (rep *Reply, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic serving %q: %v", req.Op, v)
		}
	}()
	return h(s.ctx, p, req.Op, req.Args)
}

func writeResponse(w *bufio.Writer, resp *Response, data io.Reader, size int64) error {
	b, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	w.Write(b)
	w.WriteByte('\n')
	if data != nil {
		n, err := io.Copy(w, io.LimitReader(data, size))
		if err == nil && n != size {
			err = fmt.Errorf("control: the data ended after %d of %d bytes", n, size)
		}
		if err != nil {
			w.Flush()
			return err // the connection ends: the client sees a short read and says so
		}
	}
	return w.Flush()
}

// readLine reads one line of at most max bytes, without its newline.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		part, isPrefix, err := r.ReadLine()
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				return line, nil
			}
			return nil, err
		}
		line = append(line, part...)
		if len(line) > max {
			return nil, fmt.Errorf("control: line longer than %d bytes", max)
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// userName returns the login name of uid, or "".
func userName(uid int) string {
	if uid < 0 {
		return ""
	}
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return ""
	}
	return u.Username
}
