package configsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/hashicorp/consul/api"
)

// Release is a gray release of a config shared in Consul KV: a candidate
// published beside the stable config, run by the instances it selects.
type Release struct {
	// Candidate is the candidate's version (see Data.Version).
	Candidate string `json:"candidate"`
	// Share is the percentage of instances that run the candidate, chosen
	// by a stable hash of their names; Instances, when set, name them
	// instead.
	Share     int       `json:"share"`
	Instances []string  `json:"instances,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Who       string    `json:"who"`
}

// ErrNoRelease is returned by Promote and Abort when no release is in
// progress, and by StartRelease's callers' sources that cannot hold one.
var ErrNoRelease = errors.New("config: no gray release is in progress")

// ErrReleaseInProgress is returned by StartRelease when a release is
// already in progress: promote or abort it first.
var ErrReleaseInProgress = errors.New("config: a gray release is already in progress; promote or abort it first")

// Selects reports whether the instance named id runs the candidate: it
// is listed in Instances, or (without a list) the FNV-1a hash of its name
// modulo 100 is below Share. The same name always gives the same answer,
// so a restarted instance runs what it ran.
func (r Release) Selects(id string) bool {
	if id == "" {
		return false
	}
	if len(r.Instances) > 0 {
		return slices.Contains(r.Instances, id)
	}
	return InstanceBucket(id) < r.Share
}

// InstanceBucket is the instance's place, 0..99, in share-based releases.
func InstanceBucket(id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % 100)
}

// Releaser is a source that holds gray releases (Consul KV). Safe for
// concurrent use.
type Releaser interface {
	// Release returns the release in progress and the stable config's
	// version; nil when none.
	Release(ctx context.Context) (r *Release, stable string, err error)
	// StartRelease publishes candidate beside the stable config.
	StartRelease(ctx context.Context, candidate []byte, r Release) error
	// Promote makes the candidate the stable config and ends the release,
	// in one transaction; it returns the candidate's bytes and the stable
	// bytes it replaced.
	Promote(ctx context.Context) (candidate, stable []byte, err error)
	// Abort ends the release: every instance returns to the stable config.
	Abort(ctx context.Context) error
	// Instance is this instance's name.
	Instance() string
	// PublishStats records this instance's traffic during the release;
	// ReleaseStats reads every instance's. Both end with the release.
	PublishStats(ctx context.Context, st InstanceStats) error
	ReleaseStats(ctx context.Context) ([]InstanceStats, error)
}

// InstanceStats is an instance's traffic over the last window of a
// release: what the automatic abort compares.
type InstanceStats struct {
	Instance string    `json:"instance"`
	Version  string    `json:"version"`
	Track    string    `json:"track"`
	Requests uint64    `json:"requests"`
	Errors   uint64    `json:"errors"` // answered 5xx
	At       time.Time `json:"at"`
}

// statsPrefix holds the traffic reports: refract-admin/release-stats/KEY/INSTANCE.
const statsPrefix = "refract-admin/release-stats/"

func (c *consulKV) statsDir() string { return statsPrefix + c.key + "/" }

// PublishStats writes st only while the release it belongs to is there
// (a transaction checks the release record's index), so that a report
// racing an abort leaves nothing behind.
func (c *consulKV) PublishStats(ctx context.Context, st InstanceStats) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	s, _, err := c.list(ctx, 0)
	if err != nil {
		return err
	}
	if _, ok := s.releaseState(); !ok {
		return nil // ended meanwhile
	}
	err = c.txn(ctx, api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVCheckIndex, Key: c.key + releaseSuffix, Index: s.release.ModifyIndex}},
		{KV: &api.KVTxnOp{Verb: api.KVSet, Key: c.statsDir() + st.Instance, Value: b}},
	})
	if errors.Is(err, ErrConflict) {
		return nil // the release ended or changed meanwhile
	}
	return err
}

func (c *consulKV) ReleaseStats(ctx context.Context) ([]InstanceStats, error) {
	pairs, _, err := c.client.KV().List(c.statsDir(), (&api.QueryOptions{Datacenter: c.dc}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("config: release stats: %w", err)
	}
	out := make([]InstanceStats, 0, len(pairs))
	for _, p := range pairs {
		var st InstanceStats
		if json.Unmarshal(p.Value, &st) == nil {
			out = append(out, st)
		}
	}
	return out, nil
}

func (c *consulKV) Instance() string { return c.instance }

// releaseState decodes the release of s when it is whole: the release
// record and the candidate it names. A torn state (one without the
// other) is no release.
func (s snapshot) releaseState() (Release, bool) {
	if s.release == nil || s.candidate == nil {
		return Release{}, false
	}
	var r Release
	if json.Unmarshal(s.release.Value, &r) != nil || r.Candidate != (Data{Bytes: s.candidate.Value}).Version() {
		return Release{}, false
	}
	return r, true
}

func (c *consulKV) Release(ctx context.Context) (*Release, string, error) {
	s, _, err := c.list(ctx, 0)
	if err != nil {
		return nil, "", err
	}
	stable := ""
	if s.stable != nil {
		stable = (Data{Bytes: s.stable.Value}).Version()
	}
	if r, ok := s.releaseState(); ok {
		return &r, stable, nil
	}
	return nil, stable, nil
}

// txn runs ops atomically; a failed check-and-set is ErrConflict.
func (c *consulKV) txn(ctx context.Context, ops api.TxnOps) error {
	ok, resp, _, err := c.client.Txn().Txn(ops, (&api.QueryOptions{Datacenter: c.dc}).WithContext(ctx))
	if err != nil {
		return fmt.Errorf("config: %s: %w", c.location, err)
	}
	if !ok {
		if resp != nil && len(resp.Errors) > 0 {
			return fmt.Errorf("%w (%s)", ErrConflict, resp.Errors[0].What)
		}
		return ErrConflict
	}
	return nil
}

func (c *consulKV) StartRelease(ctx context.Context, candidate []byte, r Release) error {
	s, _, err := c.list(ctx, 0)
	if err != nil {
		return err
	}
	if _, ok := s.releaseState(); ok {
		return ErrReleaseInProgress
	}
	r.Candidate = (Data{Bytes: candidate}).Version()
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	var releaseIndex uint64
	if s.release != nil { // a torn record left behind: replace it
		releaseIndex = s.release.ModifyIndex
	}
	return c.txn(ctx, api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVSet, Key: c.key + candidateSuffix, Value: candidate}},
		{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: c.key + releaseSuffix, Value: b, Index: releaseIndex}},
	})
}

func (c *consulKV) Promote(ctx context.Context) ([]byte, []byte, error) {
	s, _, err := c.list(ctx, 0)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := s.releaseState(); !ok {
		return nil, nil, ErrNoRelease
	}
	var stableIndex uint64
	var stable []byte
	if s.stable != nil {
		stableIndex, stable = s.stable.ModifyIndex, s.stable.Value
	}
	return s.candidate.Value, stable, c.txn(ctx, api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: c.key, Value: s.candidate.Value, Index: stableIndex}},
		{KV: &api.KVTxnOp{Verb: api.KVDeleteCAS, Key: c.key + releaseSuffix, Index: s.release.ModifyIndex}},
		{KV: &api.KVTxnOp{Verb: api.KVDelete, Key: c.key + candidateSuffix}},
		{KV: &api.KVTxnOp{Verb: api.KVDeleteTree, Key: c.statsDir()}},
	})
}

func (c *consulKV) Abort(ctx context.Context) error {
	s, _, err := c.list(ctx, 0)
	if err != nil {
		return err
	}
	if s.release == nil {
		return ErrNoRelease
	}
	return c.txn(ctx, api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVDeleteCAS, Key: c.key + releaseSuffix, Index: s.release.ModifyIndex}},
		{KV: &api.KVTxnOp{Verb: api.KVDelete, Key: c.key + candidateSuffix}},
		{KV: &api.KVTxnOp{Verb: api.KVDeleteTree, Key: c.statsDir()}},
	})
}
