package configsource

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// lock serialises the read-compare-rename of writes through f: the
// check-and-set of a file is only as strong as that (another program
// writing the file between the compare and the rename is not seen).
func (f *File) lock() func() {
	f.mu.Lock()
	return f.mu.Unlock
}

// Write replaces the file atomically: the bytes go to a temporary file in
// the same directory, are synced, and renamed over the file (keeping its
// permissions), so a reader (or a crash) sees the old file or the new
// one, never half of one. The file must still hold prev's bytes. The
// bytes are written as given: comments are kept exactly as the writer
// sent them.
func (f *File) Write(_ context.Context, b []byte, prev Data) (Data, error) {
	defer f.lock()()
	cur, err := os.ReadFile(f.Path)
	if err != nil {
		return Data{}, fmt.Errorf("config: %w", err)
	}
	if (Data{Bytes: cur}).Version() != prev.Version() {
		return Data{}, ErrConflict
	}
	if err := writeAtomic(f.Path, b); err != nil {
		return Data{}, err
	}
	return Data{Bytes: b, Source: f.Path}, nil
}

// writeAtomic writes b to path through a synced temporary file and a
// rename. A symlinked path is written where it points.
func writeAtomic(path string, b []byte) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("config: cannot write beside %s: %w", path, err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("config: writing %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil { // the rename itself survives a crash
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// historyPath is the file's history: JSON lines beside it, oldest first.
func (f *File) historyPath() string {
	return filepath.Join(filepath.Dir(f.Path), "."+filepath.Base(f.Path)+".history.jsonl")
}

// Record appends v to the history file beside the config (rewritten
// atomically, trimmed to MaxHistory).
func (f *File) Record(ctx context.Context, v Version) error {
	defer f.lock()()
	old, err := f.readHistory()
	if err != nil {
		return err
	}
	all := append(old, v)
	if len(all) > MaxHistory {
		all = all[len(all)-MaxHistory:]
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, e := range all {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("config: history: %w", err)
		}
	}
	return writeAtomic(f.historyPath(), buf.Bytes())
}

// History reads the history file, newest first.
func (f *File) History(context.Context) ([]Version, error) {
	all, err := f.readHistory()
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all, err
}

func (f *File) readHistory() ([]Version, error) {
	b, err := os.ReadFile(f.historyPath())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: history: %w", err)
	}
	var out []Version
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var v Version
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("config: history %s: %w", f.historyPath(), err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}
