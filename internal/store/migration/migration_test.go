package migration

import (
	"testing"
	"testing/fstest"
)

func TestLoadOrdersAndChecksVersions(t *testing.T) {
	good := fstest.MapFS{
		"m/0002_more.sql":  {Data: []byte("B")},
		"m/0001_first.sql": {Data: []byte("A")},
	}
	ms, err := Load(good, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Name != "0001_first" || ms[1].SQL != "B" || Latest(ms) != 2 {
		t.Errorf("got %+v", ms)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":     {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"no name": {"m/0001.sql": {}},
		"zero":    {"m/0000_a.sql": {}},
		"not num": {"m/x_a.sql": {}},
		"dup":     {"m/0001_a.sql": {}, "m/0001_b.sql": {}},
	} {
		if _, err := Load(fsys, "m"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
