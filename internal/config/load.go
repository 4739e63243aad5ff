package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
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
	c := &collector{file: name, pos: indexPositions(data)}
	var raw rawFile
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		var strict *toml.StrictMissingError
		var de *toml.DecodeError
		switch {
		case errors.As(err, &strict):
			for i := range strict.Errors {
				unknownKey(c, &strict.Errors[i])
			}
		case errors.As(err, &de):
			line, _ := de.Position()
			c.errs = append(c.errs, &Error{File: name, Line: line, Msg: de.Error(), Fix: "write valid TOML (https://toml.io): strings in quotes, lists in [ ]"})
			return nil, c.errs
		default:
			c.errs = append(c.errs, &Error{File: name, Msg: err.Error()})
			return nil, c.errs
		}
	}
	org := build(c, &raw, dir)
	org.File = name
	if len(c.errs) > 0 {
		sort.SliceStable(c.errs, func(i, j int) bool { return c.errs[i].Line < c.errs[j].Line })
		return nil, c.errs
	}
	return org, nil
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
