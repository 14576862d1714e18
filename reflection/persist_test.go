package reflection_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/reflection"
)

func TestRestartServesThePersistedSnapshot(t *testing.T) {
	dir := t.TempDir()
	srv := libraryServer(t, schemaOpts{version: 2}, serverConfig{})
	o := reflection.UpstreamOptions{SnapshotDir: dir}

	first, err := reflection.NewCache(reflection.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.AddWith("library", dial(t, srv.addr), o); err != nil {
		t.Fatal(err)
	}
	before, err := first.Refresh(context.Background(), "library")
	if err != nil {
		t.Fatal(err)
	}
	_ = first.Close()
	if _, err := os.Stat(filepath.Join(dir, "library.json")); err != nil {
		t.Fatalf("nothing persisted: %v", err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(tmp) > 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}

	// The backend's reflection is down when the gateway restarts.
	srv.stop()
	second := newCache(t, reflection.Options{})
	if err := second.AddWith("library", dial(t, srv.addr), o); err != nil {
		t.Fatal(err)
	}
	snap := second.Snapshot("library") // at once: no fetch needed
	if snap == nil || snap.Hash != before.Hash || snap.MethodCount() != 2 || snap.Source != reflection.SourceReflection {
		t.Fatalf("persisted snapshot %+v, want hash %s", snap, before.Hash)
	}
	if snap.Method(librarySvc+".GetBook") == nil {
		t.Fatal("the persisted snapshot lost GetBook")
	}
	if st := second.Stats()[0]; st.State != reflection.StateStale {
		t.Fatalf("state %s, want stale", st.State)
	}
	if _, err := second.Refresh(context.Background(), "library"); err == nil {
		t.Fatal("refresh of a stopped backend succeeded")
	}
	if second.Snapshot("library") != snap || second.Stats()[0].State != reflection.StateStale {
		t.Fatal("a failed fetch dropped the persisted snapshot")
	}

	// The backend comes back with the same schema: no change is seen.
	back := libraryServer(t, schemaOpts{version: 2}, serverConfig{addr: srv.addr})
	defer back.stop()
	if got, err := refresh(t, second, "library"); err != nil || got != snap {
		t.Fatalf("after recovery: %v, %v", got, err)
	}
	if h, _ := second.History("library"); len(h) != 1 || second.Stats()[0].SchemaChanges != [2]uint64{} {
		t.Fatalf("history %+v, changes %v", h, second.Stats()[0].SchemaChanges)
	}
}

func TestAnAlteredSnapshotIsNotLoaded(t *testing.T) {
	dir := t.TempDir()
	srv := libraryServer(t, schemaOpts{}, serverConfig{})
	c := newCache(t, reflection.Options{})
	if err := c.AddWith("library", dial(t, srv.addr), reflection.UpstreamOptions{SnapshotDir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(context.Background(), "library"); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "library.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), `"hash":"`) + len(`"hash":"`)
	data[i] ^= 1 // another hash than the descriptors'
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	other := newCache(t, reflection.Options{})
	if err := other.AddWith("library", dial(t, "127.0.0.1:1"), reflection.UpstreamOptions{SnapshotDir: dir}); err != nil {
		t.Fatal(err)
	}
	if other.Snapshot("library") != nil {
		t.Fatal("an altered snapshot was loaded")
	}
}
