package configsource_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/consul/api"
	"github.com/refract-gateway/refract/discovery/consultest"
	"github.com/refract-gateway/refract/gateway/configsource"
)

// Two writers that read the same version: the first write wins, the
// second is refused with ErrConflict, for a file and for a Consul KV key
// (check-and-set on its ModifyIndex, against a real agent).
func TestWriteCheckAndSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("a: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	agent := consultest.Start(t)
	if _, err := agent.Client().KV().Put(&api.KVPair{Key: "cfg", Value: []byte("a: 1\n")}, nil); err != nil {
		t.Fatal(err)
	}
	consul, err := configsource.Open("consul://" + agent.Addr + "/cfg")
	if err != nil {
		t.Fatal(err)
	}
	defer consul.Close()
	for _, src := range []configsource.Source{&configsource.File{Path: path}, consul} {
		read, err := src.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		w := src.(configsource.Writer)
		first, err := w.Write(t.Context(), []byte("a: 2\n"), read)
		if err != nil {
			t.Fatalf("%s: first write: %v", src, err)
		}
		if _, err := w.Write(t.Context(), []byte("a: 3\n"), read); !errors.Is(err, configsource.ErrConflict) {
			t.Fatalf("%s: second write from the same reading: %v, want ErrConflict", src, err)
		}
		now, err := src.Read(t.Context())
		if err != nil || string(now.Bytes) != "a: 2\n" || now.ModifyIndex != first.ModifyIndex {
			t.Fatalf("%s: holds %q (index %d, %v), want the first write's (index %d)", src, now.Bytes, now.ModifyIndex, err, first.ModifyIndex)
		}
		if _, err := w.Write(t.Context(), []byte("a: 3\n"), now); err != nil {
			t.Fatalf("%s: a write from the fresh reading: %v", src, err)
		}
	}
}
