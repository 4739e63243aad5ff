package embedded

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/waypost/waypost/internal/address"
	"github.com/waypost/waypost/internal/directory"
)

// CSV columns. address and member may be repeated, one value a cell, so
// that addresses with ';' or ',' (X.400, FAX) need no second level of
// quoting; empty cells are skipped.
var csvColumns = []string{"kind", "name", "server", "address", "target", "member", "password_hash"}

// ReadCSV reads recipients from CSV with a header row naming the columns
// (kind, name, server, address..., target, member..., password_hash; any
// order, case-insensitive). Every bad row is reported with its line, in a
// LineErrors; the rows that could be read are returned with it, so that
// Import can report their problems too.
func ReadCSV(r io.Reader, file string) ([]Record, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	var errs LineErrors
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &LineError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	header, err := cr.Read()
	if err == io.EOF {
		return nil, LineErrors{{File: file, Line: 1, Msg: "the file is empty; the first line names the columns: " + strings.Join(csvColumns, ",")}}
	}
	if err != nil {
		return nil, LineErrors{csvError(file, err)}
	}
	cols := make([]string, len(header))
	have := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		known := false
		for _, c := range csvColumns {
			known = known || c == h
		}
		switch {
		case !known:
			bad(1, "unknown column %q (columns: %s; address and member may repeat)", header[i], strings.Join(csvColumns, ", "))
		case have[h] && h != "address" && h != "member":
			bad(1, "column %q appears twice (only address and member may repeat)", h)
		}
		cols[i], have[h] = h, true
	}
	for _, c := range []string{"kind", "name", "address"} {
		if !have[c] {
			bad(1, "the header has no %q column", c)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var recs []Record
	for {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			errs = append(errs, csvError(file, err))
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				continue
			}
			break
		}
		line, _ := cr.FieldPos(0)
		e := &directory.Entry{}
		ok := true
		for i, v := range row {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			switch cols[i] {
			case "kind":
				e.Kind = directory.Kind(strings.ToLower(v))
			case "name":
				e.Name = v
			case "server":
				e.Server = v
			case "address":
				p, err := directory.ParseProxy(v)
				if err != nil {
					bad(line, "address %q: %v", v, err)
					ok = false
					continue
				}
				e.Addresses = append(e.Addresses, p)
			case "target":
				t, err := address.Parse(v, nil)
				if err != nil {
					bad(line, "target %q: %v", v, err)
					ok = false
					continue
				}
				e.Target = &t
			case "member":
				e.Members = append(e.Members, v)
			case "password_hash":
				e.PasswordHash = v
			}
		}
		if ok {
			recs = append(recs, Record{Line: line, Entry: e})
		}
	}
	if len(errs) > 0 {
		return recs, errs
	}
	return recs, nil
}

func csvError(file string, err error) *LineError {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &LineError{File: file, Line: pe.Line, Msg: pe.Err.Error() + " (each row needs as many cells as the header; quote cells with commas or quotes)"}
	}
	return &LineError{File: file, Msg: err.Error()}
}
