package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
)

// Load reads and validates the organization file at path. The error, when
// not nil, is an Errors value listing every problem found.
func Load(path string) (*Org, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read the organization file: %v", err), Fix: "give the path of an existing TOML file with --config"}}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return Parse(data, path, filepath.Dir(abs))
}

// Parse validates an organization file held in memory. name is used in
// error messages; dir is the folder relative paths are resolved against.
func Parse(data []byte, name, dir string) (*Org, error) {
	// Editors on Windows start UTF-8 files with a byte-order mark, which
	// TOML does not allow; it carries nothing, so it is dropped.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	c := &collector{file: name, pos: indexPositions(data)}
	var raw rawFile
	if !decode(c, data, &raw) {
		sort.SliceStable(c.errs, func(i, j int) bool { return c.errs[i].Line < c.errs[j].Line })
		return nil, c.errs
	}
	org := build(c, &raw, dir)
	org.File = name
	if len(c.errs) > 0 {
		sort.SliceStable(c.errs, func(i, j int) bool { return c.errs[i].Line < c.errs[j].Line })
		return nil, c.errs
	}
	return org, nil
}

// maxTypeErrors bounds how many values of the wrong type decode reports
// before it gives up on the rest of a file.
const maxTypeErrors = 100

// decode decodes data into raw, reporting every unknown key and every
// value of the wrong type, not only the first: go-toml stops at the first
// type error, so decode blanks that value's line and decodes again, as
// long as what is left still parses. It reports whether raw may be built.
func decode(c *collector, data []byte, raw *rawFile) bool {
	data = bytes.Clone(data)
	typeErrs := 0
	for {
		*raw = rawFile{}
		dec := toml.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err := dec.Decode(raw)
		var strict *toml.StrictMissingError
		var de *toml.DecodeError
		switch {
		case err == nil:
			return typeErrs == 0
		case errors.As(err, &strict):
			for i := range strict.Errors {
				unknownKey(c, &strict.Errors[i])
			}
			return typeErrs == 0
		case errors.As(err, &de):
			line, _ := de.Position()
			msg, fix, isType := typeError(c, de)
			if !isType {
				if typeErrs == 0 { // a syntax error; after a blanked line, one of decode's own making
					c.errs = append(c.errs, &Error{File: c.file, Line: line, Msg: de.Error(), Fix: "write valid TOML (https://toml.io): strings in quotes, lists in [ ]"})
				}
				return false
			}
			c.errs = append(c.errs, &Error{File: c.file, Line: line, Path: strings.Join(c.pos.keyAt(line, []string(de.Key())), "."), Msg: msg, Fix: fix})
			typeErrs++
			if typeErrs >= maxTypeErrors || !blankLine(data, line) {
				return false
			}
		default:
			c.errs = append(c.errs, &Error{File: c.file, Msg: err.Error()})
			return false
		}
	}
}

// blankLine replaces line n (1-based) of data with spaces, keeping every
// other line where it was. It reports false when there is no such line.
func blankLine(data []byte, n int) bool {
	start := 0
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(data[start:], '\n')
		if j < 0 {
			return false
		}
		start += j + 1
	}
	end := bytes.IndexByte(data[start:], '\n')
	if end < 0 {
		end = len(data) - start
	}
	for i := start; i < start+end; i++ {
		if data[i] != '\r' {
			data[i] = ' '
		}
	}
	return true
}

// typeErrorRE matches go-toml's words for a value of the wrong type.
var typeErrorRE = regexp.MustCompile(`cannot decode TOML (\w+(?: \w+)?) into (?:struct field \S+ of type|a Go value of type|Go value of type) (\S+)`)

// typeError says in the file's terms what a type error of go-toml means:
// what was written and what to write instead, never a Go type name.
func typeError(c *collector, de *toml.DecodeError) (msg, fix string, ok bool) {
	m := typeErrorRE.FindStringSubmatch(de.Error())
	if m == nil {
		return "", "", false
	}
	line, _ := de.Position()
	key := c.pos.keyAt(line, []string(de.Key()))
	name := "this value"
	if len(key) > 0 {
		name = key[len(key)-1]
	}
	got := map[string]string{"integer": "a whole number", "float": "a decimal number", "string": "text", "boolean": "true or false",
		"array": "a list", "inline table": "a table", "table": "a table", "datetime": "a date and time", "local datetime": "a date and time",
		"local date": "a date", "local time": "a time"}[m[1]]
	if got == "" {
		got = m[1]
	}
	want, example := "a value of another kind", ""
	switch strings.TrimPrefix(m[2], "*") {
	case "string":
		want, example = "text in quotes", name+` = "..."`
	case "int", "int64", "int32", "uint", "uint64":
		want, example = "a whole number", name+" = 10"
	case "bool":
		want, example = "true or false", name+" = true"
	case "float64":
		want, example = "a number", name+" = 1.5"
	case "[]string":
		want, example = "a list of texts in quotes", name+` = ["a", "b"]`
	default:
		if strings.HasPrefix(m[2], "[]") {
			want = "a list"
		} else if strings.Contains(m[2], ".raw") {
			want = "a table"
		}
	}
	msg = fmt.Sprintf("%s is %s here; it must be %s", name, got, want)
	fix = "write it as " + want
	if example != "" {
		fix = "write it as " + example
	}
	return msg, fix, true
}

func unknownKey(c *collector, de *toml.DecodeError) {
	line, _ := de.Position()
	key := c.pos.keyAt(line, []string(de.Key()))
	section := "the top level"
	if len(key) > 1 {
		section = "[" + strings.Join(key[:len(key)-1], ".") + "]"
	}
	name := key[len(key)-1]
	known := knownKeys(reflect.TypeOf(rawFile{}), key[:len(key)-1])
	fix := "remove it"
	if len(known) > 0 {
		fix = "remove it, or use one of the keys of " + section + ": " + strings.Join(known, ", ")
	}
	if len(key) == 1 {
		fix = "remove it; the file's sections are " + strings.Join(known, ", ")
	}
	c.errs = append(c.errs, &Error{File: c.file, Line: line, Path: strings.Join(key, "."), Msg: fmt.Sprintf("unknown key %q in %s", name, section), Fix: fix})
}

// knownKeys lists the TOML keys a section accepts, following the raw types.
func knownKeys(t reflect.Type, path []string) []string {
	for _, part := range path {
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		found := false
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).Tag.Get("toml") == part {
				t, found = t.Field(i).Type, true
				break
			}
		}
		if !found {
			return nil
		}
	}
	for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		keys = append(keys, t.Field(i).Tag.Get("toml"))
	}
	return keys
}
