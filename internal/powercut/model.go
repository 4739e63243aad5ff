package powercut

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"
)

// inode is a file or folder of the model. A file has the bytes written
// (data) and those made durable by its last fsync (synced); a folder has
// its names now (names) and those made durable by its last fsync
// (synced names).
type inode struct {
	dir         bool
	data        []byte
	synced      []byte
	names       map[string]int // name -> inode number
	syncedNames map[string]int
}

// model is the state of the recorded folder: inode 0 is its root.
type model struct {
	inodes []*inode
}

func newModel() *model {
	return &model{inodes: []*inode{{dir: true, names: map[string]int{}, syncedNames: map[string]int{}}}}
}

func (m *model) clone() *model {
	c := &model{inodes: make([]*inode, len(m.inodes))}
	for i, n := range m.inodes {
		cn := *n
		if n.dir {
			cn.names, cn.syncedNames = cloneMap(n.names), cloneMap(n.syncedNames)
		}
		c.inodes[i] = &cn // data slices are never changed in place
	}
	return c
}

func cloneMap(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// lookup returns the inode at rel (a slash-separated path relative to
// the root, "." for the root) by the names as they are now.
func (m *model) lookup(rel string) (int, error) {
	ino := 0
	if rel == "." {
		return 0, nil
	}
	for _, part := range strings.Split(rel, "/") {
		n := m.inodes[ino]
		if !n.dir {
			return 0, fmt.Errorf("model: %s: a file is not a folder", rel)
		}
		next, ok := n.names[part]
		if !ok {
			return 0, fmt.Errorf("model: %s: no such file", rel)
		}
		ino = next
	}
	return ino, nil
}

// parent returns the folder inode holding rel and rel's last element.
func (m *model) parent(rel string) (int, string, error) {
	dir, name := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	ino, err := m.lookup(dir)
	if err == nil && !m.inodes[ino].dir {
		err = fmt.Errorf("model: %s: not a folder", dir)
	}
	return ino, name, err
}

// add makes a new inode named rel, durable if it is part of the initial
// state.
func (m *model) add(rel string, dir, durable bool, data []byte) (int, error) {
	p, name, err := m.parent(rel)
	if err != nil {
		return 0, err
	}
	n := &inode{dir: dir, data: data}
	if dir {
		n.names, n.syncedNames = map[string]int{}, map[string]int{}
	}
	ino := len(m.inodes)
	m.inodes = append(m.inodes, n)
	m.inodes[p].names[name] = ino
	if durable {
		n.synced = data
		m.inodes[p].syncedNames[name] = ino
	}
	return ino, nil
}

// apply changes the model by one operation.
func (m *model) apply(op Op) error {
	switch op.Kind {
	case OpMkdir:
		_, err := m.add(op.Path, true, false, nil)
		return err
	case OpCreate:
		_, err := m.add(op.Path, false, false, nil)
		return err
	case OpTruncate:
		n := m.inodes[op.Ino]
		data := make([]byte, op.Off) // zeros past the old end, as ftruncate(2)
		copy(data, n.data)
		n.data = data
	case OpWrite:
		n := m.inodes[op.Ino]
		end := op.Off + int64(len(op.Data))
		data := make([]byte, max(int64(len(n.data)), end))
		copy(data, n.data)
		copy(data[op.Off:], op.Data)
		n.data = data
	case OpSync:
		n := m.inodes[op.Ino]
		if n.dir {
			n.syncedNames = cloneMap(n.names)
		} else {
			n.synced = n.data
		}
	case OpRename:
		from, fname, err := m.parent(op.Path)
		if err != nil {
			return err
		}
		to, tname, err := m.parent(op.To)
		if err != nil {
			return err
		}
		ino, ok := m.inodes[from].names[fname]
		if !ok {
			return fmt.Errorf("model: rename %s: no such file", op.Path)
		}
		delete(m.inodes[from].names, fname)
		m.inodes[to].names[tname] = ino
	case OpRemove:
		p, name, err := m.parent(op.Path)
		if err != nil {
			return err
		}
		delete(m.inodes[p].names, name)
	case OpSyncFS:
		for _, n := range m.inodes {
			if n.dir {
				n.syncedNames = cloneMap(n.names)
			} else {
				n.synced = n.data
			}
		}
	case OpNote:
	}
	return nil
}

// view is one choice the model allows a power cut: for each folder,
// whether its unsynced names are kept; for every file, how much of its
// unsynced data is kept.
type view struct {
	desc      string
	keepNames func(ino int) bool
	data      dataChoice
}

type dataChoice int

const (
	dataLost   dataChoice = iota // content as of the last fsync
	dataTorn                     // and half of what was written after
	dataZeroed                   // its size as written, zeros after the synced bytes
)

// pendingDirs returns the folders whose names differ from their durable
// ones, in inode order.
func (m *model) pendingDirs() []int {
	var out []int
	for i, n := range m.inodes {
		if n.dir && !sameNames(n.names, n.syncedNames) {
			out = append(out, i)
		}
	}
	return out
}

func sameNames(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// views lists the states tried for the model as it is.
func (m *model) views() []view {
	vs := []view{
		{desc: "every unsynced name and byte lost", keepNames: func(int) bool { return false }, data: dataLost},
		{desc: "names kept, unsynced data lost", keepNames: func(int) bool { return true }, data: dataLost},
		{desc: "names kept, unsynced data torn", keepNames: func(int) bool { return true }, data: dataTorn},
		{desc: "names kept, unsynced data zeros", keepNames: func(int) bool { return true }, data: dataZeroed},
	}
	for _, d := range m.pendingDirs() {
		name := m.pathOf(d)
		vs = append(vs,
			view{desc: "unsynced names of " + name + " lost, others kept, unsynced data lost", keepNames: func(i int) bool { return i != d }},
			view{desc: "unsynced names of " + name + " kept, others lost, unsynced data lost", keepNames: func(i int) bool { return i == d }},
		)
	}
	return vs
}

// pathOf names a folder inode by the names as they are now, for messages.
func (m *model) pathOf(ino int) string {
	var walk func(at int, p string) string
	walk = func(at int, p string) string {
		if at == ino {
			return p
		}
		for name, c := range m.inodes[at].names {
			if m.inodes[c].dir {
				if r := walk(c, path.Join(p, name)); r != "" {
					return r
				}
			}
		}
		return ""
	}
	if r := walk(0, "."); r != "" {
		return r + "/"
	}
	return fmt.Sprintf("folder #%d/", ino)
}

// file is one file of a crash state.
type file struct {
	path string // relative, slash-separated
	dir  bool
	data []byte
}

// state builds the files a view leaves, in a stable order.
func (m *model) state(v view) []file {
	var out []file
	var walk func(ino int, p string, depth int)
	walk = func(ino int, p string, depth int) {
		n := m.inodes[ino]
		names := n.syncedNames
		if v.keepNames(ino) {
			names = n.names
		}
		for _, name := range sortedKeys(names) {
			c := m.inodes[names[name]]
			cp := path.Join(p, name)
			if c.dir {
				out = append(out, file{path: cp, dir: true})
				if depth < 64 {
					walk(names[name], cp, depth+1)
				}
				continue
			}
			out = append(out, file{path: cp, data: c.contentIn(v.data)})
		}
	}
	walk(0, ".", 0)
	return out
}

// contentIn is what a power cut leaves of a file's data.
func (n *inode) contentIn(d dataChoice) []byte {
	if d == dataLost || len(n.data) <= len(n.synced) {
		return n.synced
	}
	if d == dataZeroed {
		z := make([]byte, len(n.data))
		copy(z, n.synced)
		return z
	}
	if bytes.HasPrefix(n.data, n.synced) {
		return n.data[:len(n.synced)+(len(n.data)-len(n.synced))/2]
	}
	return n.data[:len(n.data)/2]
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
