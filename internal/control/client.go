package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Client is a connection to a hub's control socket.
type Client struct {
	path string
	c    net.Conn
	r    *bufio.Reader
	// Timeout bounds each call (0: none). A reload or a listing of a large
	// queue can take a while; the default of Dial is generous.
	Timeout time.Duration
}

// Dial connects to the control socket at path. Its errors say what to do:
// a hub that is not running, or a socket the caller may not open.
func Dial(path string) (*Client, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		switch {
		case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("no hub is running on %s (%v); start it with \"waypost serve\"", path, err)
		case errors.Is(err, os.ErrPermission):
			return nil, fmt.Errorf("%s: permission denied; run the command as the hub's user or as root", path)
		}
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return &Client{path: path, c: c, r: bufio.NewReaderSize(c, 64<<10), Timeout: 10 * time.Minute}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.c.Close() }

// Call sends op with args and decodes the result into result (which may
// be nil). A refusal by the hub is an *Error.
func (c *Client) Call(op string, args, result any) error {
	resp, err := c.roundTrip(op, args)
	if err != nil {
		return err
	}
	if resp.Data > 0 {
		c.c.Close() // the data is not wanted; the connection cannot go on
		return fmt.Errorf("control: %s: unexpected data in the response", op)
	}
	return decodeResult(op, resp, result)
}

// CallData is Call for an operation whose response carries raw data: it
// returns a reader of exactly that data, valid until the next call.
func (c *Client) CallData(op string, args, result any) (io.Reader, int64, error) {
	resp, err := c.roundTrip(op, args)
	if err != nil {
		return nil, 0, err
	}
	if err := decodeResult(op, resp, result); err != nil {
		return nil, 0, err
	}
	return &exactReader{r: io.LimitReader(c.r, resp.Data), left: resp.Data}, resp.Data, nil
}

func (c *Client) roundTrip(op string, args any) (*Response, error) {
	req := Request{V: Version, Op: op}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return nil, fmt.Errorf("control: encoding the arguments of %s: %w", op, err)
		}
		req.Args = b
	}
	line, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if c.Timeout > 0 {
		c.c.SetDeadline(time.Now().Add(c.Timeout))
	}
	if _, err := c.c.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("control socket %s: sending %s: %w", c.path, op, err)
	}
	b, err := readLine(c.r, maxResponse)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("control socket %s: the hub closed the connection without answering %s (is it shutting down?)", c.path, op)
		}
		return nil, fmt.Errorf("control socket %s: reading the answer to %s: %w", c.path, op, err)
	}
	var resp Response
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, fmt.Errorf("control socket %s: the answer to %s is not JSON: %w", c.path, op, err)
	}
	return &resp, nil
}

func decodeResult(op string, resp *Response, result any) error {
	if !resp.OK {
		code := resp.Code
		if code == "" {
			code = CodeInternal
		}
		return &Error{Code: code, Msg: resp.Error, Errors: resp.Errors}
	}
	if result == nil || len(resp.Result) == 0 {
		return nil
	}
	if err := json.Unmarshal(resp.Result, result); err != nil {
		return fmt.Errorf("control: decoding the result of %s: %w", op, err)
	}
	return nil
}

// exactReader fails with io.ErrUnexpectedEOF when the data ends short.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
