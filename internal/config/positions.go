package config

import (
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// positions maps a key path such as "send_connector[2].address_spaces[0]"
// or "organization.retry.glitch_interval" to the line it is written on, so
// that semantic errors found after decoding can name their line.
type positions map[string]int

func indexPositions(data []byte) positions {
	pos := positions{}
	var p unstable.Parser
	p.Reset(data)
	lines := lineStarts(data)
	counts := map[string]int{} // array-of-tables path -> occurrences so far
	table := ""                // current table path, with indices
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			path := resolveHeader(keyParts(e), counts, e.Kind == unstable.ArrayTable)
			table = path
			pos.set(path, lineOf(&p, lines, e))
		case unstable.KeyValue:
			path := join(table, strings.Join(keyParts(e), "."))
			line := lineOf(&p, lines, e)
			pos.set(path, line)
			pos.value(&p, lines, path, e.Value(), line)
		}
	}
	return pos
}

// resolveHeader turns a table header into an indexed path: for
// [[server.receive]] after the second [[server]] it gives "server[1].receive[n]".
func resolveHeader(parts []string, counts map[string]int, array bool) string {
	path := ""
	for i, part := range parts {
		path = join(path, part)
		last := i == len(parts)-1
		if last && array {
			n := counts[path]
			counts[path] = n + 1
			return path + "[" + strconv.Itoa(n) + "]"
		}
		if n, ok := counts[path]; ok && n > 0 {
			path += "[" + strconv.Itoa(n-1) + "]"
		}
	}
	return path
}

func (pos positions) value(p *unstable.Parser, lines []int, path string, v *unstable.Node, line int) {
	switch v.Kind {
	case unstable.Array:
		it := v.Children()
		for i := 0; it.Next(); i++ {
			child := it.Node()
			l := lineOfRange(lines, child.Raw, line)
			pos.set(path+"["+strconv.Itoa(i)+"]", l)
			pos.value(p, lines, path+"["+strconv.Itoa(i)+"]", child, l)
		}
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			kv := it.Node()
			sub := join(path, strings.Join(keyParts(kv), "."))
			l := lineOf(p, lines, kv)
			if l == 0 {
				l = line
			}
			pos.set(sub, l)
			pos.value(p, lines, sub, kv.Value(), l)
		}
	}
}

func (pos positions) set(path string, line int) {
	if _, ok := pos[path]; !ok && line > 0 {
		pos[path] = line
	}
}

// has reports whether path itself was written in the file.
func (pos positions) has(path string) bool {
	_, ok := pos[path]
	return ok
}

// line returns the line of path, or of its nearest enclosing path that has one.
func (pos positions) line(path string) int {
	for path != "" {
		if l, ok := pos[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func keyParts(n *unstable.Node) []string {
	var parts []string
	it := n.Key()
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

func lineOf(p *unstable.Parser, lines []int, n *unstable.Node) int {
	it := n.Key()
	if it.Next() {
		if l := lineOfRange(lines, it.Node().Raw, 0); l > 0 {
			return l
		}
	}
	return lineOfRange(lines, n.Raw, 0)
}

// lineOfRange is the 1-based line of the start of r. (The parser's own
// Shape counts lines from the start of the file on every call, which is
// quadratic on a large organization.)
func lineOfRange(lines []int, r unstable.Range, fallback int) int {
	if r.Length == 0 && r.Offset == 0 {
		return fallback
	}
	return sort.Search(len(lines), func(i int) bool { return lines[i] > int(r.Offset) })
}

// lineStarts returns the offset at which each line begins.
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// keyAt finds the full key path of the key written on line whose last part
// is the last part of key. go-toml names a key inside an inline table
// without the table's own key; the index knows it.
func (pos positions) keyAt(line int, key []string) []string {
	if len(key) == 0 {
		return key
	}
	name := key[len(key)-1]
	best := ""
	for path, l := range pos {
		if l == line && (path == name || strings.HasSuffix(path, "."+name)) && len(path) > len(best) {
			best = path
		}
	}
	if best == "" {
		return key
	}
	var parts []string
	for _, p := range strings.Split(best, ".") {
		if i := strings.IndexByte(p, '['); i >= 0 {
			p = p[:i]
		}
		parts = append(parts, p)
	}
	return parts
}
