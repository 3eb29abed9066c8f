package fsobjects

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// sweep removes what interrupted writes left in the bucket trees: data
// files that no metadata file names, once staleTemp old (younger ones may
// belong to a write in progress), and key directories left empty. It runs
// at Open, before the store is used; it is best effort.
//
// It reads one directory listing per key directory, and a metadata file
// only where a key has more than one data file: a metadata file always
// names an existing data file (written first), so a key with metadata and
// a single data file has nothing to remove.
func (s *Store) sweep() {
	des, err := os.ReadDir(s.root)
	if err != nil {
		return
	}
	cutoff := s.now().Add(-staleTemp)
	for _, de := range des {
		if de.IsDir() && validBucket(de.Name()) {
			sweepDir(filepath.Join(s.root, de.Name()), cutoff)
		}
	}
}

func sweepDir(dir string, cutoff time.Time) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type files struct {
		meta bool
		data []os.DirEntry
	}
	byChunk := map[string]*files{}
	chunk := func(c string) *files {
		f := byChunk[c]
		if f == nil {
			f = &files{}
			byChunk[c] = f
		}
		return f
	}
	for _, de := range des {
		name := de.Name()
		switch {
		case de.IsDir() && strings.HasSuffix(name, dirSuffix):
			sub := filepath.Join(dir, name)
			sweepDir(sub, cutoff)
			os.Remove(sub) // only if empty
		case de.Type().IsRegular() && strings.HasSuffix(name, leafSuffix):
			chunk(strings.TrimSuffix(name, leafSuffix)).meta = true
		case de.Type().IsRegular():
			if c, _, ok := parseDataName(name); ok {
				chunk(c).data = append(chunk(c).data, de)
			}
		}
	}
	for c, f := range byChunk {
		keep := ""
		if f.meta {
			if len(f.data) < 2 {
				continue
			}
			m, err := readMeta(filepath.Join(dir, c+leafSuffix))
			if err != nil {
				continue // leave a damaged object as it is
			}
			keep = m.Data
		}
		for _, de := range f.data {
			if _, v, _ := parseDataName(de.Name()); v == keep {
				continue
			}
			if fi, err := de.Info(); err == nil && fi.ModTime().Before(cutoff) {
				os.Remove(filepath.Join(dir, de.Name()))
			}
		}
	}
}
