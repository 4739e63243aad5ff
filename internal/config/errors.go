package config

import (
	"fmt"
	"strings"
)

// Error is one problem in an organization file.
type Error struct {
	File string
	Line int    // 0 when unknown
	Path string // key path, e.g. send_connector[1].address_spaces[0]
	Msg  string // what is wrong
	Fix  string // what to write instead; may be ""
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Fix != "" {
		b.WriteString(" (fix: ")
		b.WriteString(e.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// Errors is every problem found in one load, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// collector gathers errors while validating, locating each by its key path.
type collector struct {
	file string
	pos  positions
	errs Errors
}

func (c *collector) add(path, fix, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.file, Line: c.pos.line(path), Path: path, Msg: fmt.Sprintf(format, args...), Fix: fix})
}
