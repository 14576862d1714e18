package reflection

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// persisted is the file an upstream's adopted snapshot is kept in. The
// descriptor set is the files as fetched, so that the hash computed on
// load is the hash the upstream serves: a restart shows no change.
type persisted struct {
	Upstream  string    `json:"upstream"`
	Hash      string    `json:"hash"`
	Source    Source    `json:"source"`
	Services  []string  `json:"services"`
	FetchedAt time.Time `json:"fetched_at"`
	Endpoint  string    `json:"endpoint,omitempty"`
	// DescriptorSet is a binary FileDescriptorSet (base64 in the JSON).
	DescriptorSet []byte `json:"descriptor_set"`
}

// snapshotPath is where an upstream's snapshot is persisted.
func (u *upstream) snapshotPath() string {
	return filepath.Join(u.o.SnapshotDir, u.name+".json")
}

// persist writes the adopted snapshot to the snapshot directory, when one
// is set, atomically: a temporary file in the same directory, synced,
// renamed over the old one, and the directory synced. Writes of one
// upstream are serialized and each writes the snapshot adopted at the
// time, so the last write is the latest. Failures are logged: the
// snapshot keeps serving from memory.
func (u *upstream) persist() {
	if u.o.SnapshotDir == "" {
		return
	}
	u.persistMu.Lock()
	defer u.persistMu.Unlock()
	snap := u.snap.Load()
	if snap == nil || snap.Hash == u.persistedHash {
		return
	}
	if err := writeSnapshot(u.o.SnapshotDir, u.snapshotPath(), snap); err != nil {
		u.c.log.Error().Err(err).Str("upstream", u.name).Str("hash", snap.Hash).Msg("persisting the descriptor snapshot failed; it keeps serving from memory")
		return
	}
	u.persistedHash = snap.Hash
}

func writeSnapshot(dir, path string, snap *Snapshot) error {
	set, err := proto.MarshalOptions{Deterministic: true}.Marshal(&descriptorpb.FileDescriptorSet{File: snap.fdps})
	if err != nil {
		return err
	}
	data, err := json.Marshal(persisted{Upstream: snap.Upstream, Hash: snap.Hash, Source: snap.Source, Services: snap.ServiceNames(),
		FetchedAt: snap.FetchedAt, Endpoint: snap.Endpoint, DescriptorSet: set})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync() // the rename itself survives a crash
}

// loadPersisted reads the upstream's persisted snapshot, nil when there
// is none. The file is untrusted like any descriptor source: its size is
// bounded, its hash checked and its files built and limited as a fetch's.
func (u *upstream) loadPersisted() (*Snapshot, error) {
	if u.o.SnapshotDir == "" {
		return nil, nil
	}
	// base64 and the JSON around it: 4/3 of the set and some.
	data, err := readAtMost(u.snapshotPath(), u.c.opts.MaxBytes/3*4+64<<10)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p persisted
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", u.snapshotPath(), err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(p.DescriptorSet, &set); err != nil {
		return nil, fmt.Errorf("%s: descriptor_set: %w", u.snapshotPath(), err)
	}
	snap, err := u.fetcher.build(set.File, routable(slices.Clone(p.Services)), u.conn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u.snapshotPath(), err)
	}
	if snap.Hash != p.Hash {
		return nil, fmt.Errorf("%s: the descriptors hash to %s, not to the %s recorded: the file was altered", u.snapshotPath(), snap.Hash, p.Hash)
	}
	snap.Source, snap.FetchedAt, snap.Endpoint = p.Source, p.FetchedAt, p.Endpoint
	u.persistedHash = snap.Hash
	return snap, nil
}
