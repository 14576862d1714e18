package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// mountRelease adds the gray release's endpoints (Consul KV configs).
func (c *Control) mountRelease(mux *endpointMux) {
	mux.HandleFunc("GET /admin/config/release", c.releaseState)
	mux.HandleFunc("POST /admin/config/release", c.startRelease)
	mux.HandleFunc("POST /admin/config/promote", c.promote)
	mux.HandleFunc("POST /admin/config/abort", c.abort)
}

// releaser is the source's gray release, or answers why there is none.
func (c *Control) releaser(w http.ResponseWriter) configsource.Releaser {
	rel, ok := c.o.Source.(configsource.Releaser)
	if !ok {
		rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.FailedPrecondition, "admin API: gray releases need a config shared in Consul KV "+
			"(-config consul://HOST:PORT/KEY); this instance reads "+c.o.Source.String())
	}
	return rel
}

func (c *Control) releaseState(w http.ResponseWriter, r *http.Request) {
	rel := c.releaser(w)
	if rel == nil {
		return
	}
	cur, stable, err := rel.Release(r.Context())
	if err != nil {
		writeSourceError(w, err)
		return
	}
	running, _ := c.o.Running()
	runs := "stable"
	if running.Track == "candidate" {
		runs = "candidate"
	}
	resp := map[string]any{"stable": stable, "candidate": nil, "share": 0, "instances": []string{},
		"this_instance": map[string]any{"id": rel.Instance(), "runs": runs, "version": running.Version(),
			"bucket": configsource.InstanceBucket(rel.Instance())}}
	if cur != nil {
		resp["candidate"], resp["share"], resp["started_at"], resp["who"] = cur.Candidate, cur.Share, cur.StartedAt, cur.Who
		if cur.Instances != nil {
			resp["instances"] = cur.Instances
		}
	}
	WriteJSON(w, http.StatusOK, resp)
}

// startRelease publishes a candidate: {"yaml": "...", "share": 33} or
// {"yaml": "...", "instances": ["gw-2"]}. The candidate is validated
// whole first.
func (c *Control) startRelease(w http.ResponseWriter, r *http.Request) {
	rel := c.releaser(w)
	if rel == nil {
		return
	}
	var req struct {
		YAML      string   `json:"yaml"`
		Share     int      `json:"share"`
		Instances []string `json:"instances"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxConfigBytes)).Decode(&req); err != nil || req.YAML == "" ||
		req.Share < 0 || req.Share > 100 || (req.Share == 0) == (len(req.Instances) == 0) {
		rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument, `admin API: send {"yaml":"<the candidate config>","share":1..100} `+
			`or {"yaml":"…","instances":["<instance id>",…]} (one of share or instances)`)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx := context.WithoutCancel(r.Context())
	// The console sends the source as GET /admin/config shows it, its
	// secrets redacted: the candidate keeps the running config's.
	running, cfg := c.o.Running()
	cand, missing, err := restoreRedacted([]byte(req.YAML), running.Bytes)
	if err != nil || len(missing) > 0 {
		rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument, fmt.Sprintf("admin API: the candidate holds the placeholder %q at %s, "+
			"where the running config has no secret to keep: write the secret itself (or its env or file) there", redacted, strings.Join(missing, ", ")))
		return
	}
	req.YAML = string(cand)
	newCfg, err := c.o.Parse(cand)
	if err != nil {
		writeConfigErrors(w, err)
		return
	}
	diff, err := c.configDiff(cfg, newCfg)
	if err != nil {
		writeAdminError(w, err)
		return
	}
	id := IdentityOf(r)
	entry := AuditEntry{At: c.o.Now().UTC(), Who: id.Subject, Auth: id.Auth, From: id.From, Action: "start gray release",
		VersionBefore: running.Version(), VersionAfter: configsource.Data{Bytes: []byte(req.YAML)}.Version(), Diff: diff}
	err = rel.StartRelease(ctx, []byte(req.YAML), configsource.Release{Share: req.Share, Instances: slices.Clip(req.Instances),
		StartedAt: entry.At, Who: id.Subject})
	if err != nil {
		c.record(entry, "refused: "+err.Error())
		writeSourceError(w, err)
		return
	}
	c.record(entry, "ok")
	WriteJSON(w, http.StatusOK, map[string]any{"candidate": entry.VersionAfter, "stable": entry.VersionBefore, "share": req.Share,
		"instances": req.Instances, "diff": diff})
}

// promote makes the candidate the stable config of every instance.
func (c *Control) promote(w http.ResponseWriter, r *http.Request) {
	rel := c.releaser(w)
	if rel == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx := context.WithoutCancel(r.Context())
	_, stable, err := rel.Release(ctx)
	if err != nil {
		writeSourceError(w, err)
		return
	}
	id := IdentityOf(r)
	entry := AuditEntry{At: c.o.Now().UTC(), Who: id.Subject, Auth: id.Auth, From: id.From, Action: "promote gray release", VersionBefore: stable}
	b, old, err := rel.Promote(ctx)
	if err != nil {
		c.record(entry, "refused: "+err.Error())
		writeSourceError(w, err)
		return
	}
	entry.VersionAfter = configsource.Data{Bytes: b}.Version()
	c.record(entry, "ok")
	if wr, ok := c.o.Source.(configsource.Writer); ok {
		if hist, _ := wr.History(ctx); len(hist) == 0 || hist[0].Version != stable {
			_ = wr.Record(ctx, configsource.Version{Version: stable, At: entry.At.Add(-1), Who: "source",
				Summary: "the stable config before the release", YAML: string(old)})
		}
		if err := wr.Record(ctx, configsource.Version{Version: entry.VersionAfter, At: entry.At, Who: entry.Who, From: entry.From,
			Summary: "promoted from a gray release", YAML: string(b)}); err != nil {
			log := c.o.Logger()
			log.Error().Err(err).Msg("promoted, but the history entry was not written")
		}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"version": entry.VersionAfter, "previous": stable})
}

// abort returns every instance to the stable config.
func (c *Control) abort(w http.ResponseWriter, r *http.Request) {
	if rel := c.releaser(w); rel != nil {
		id := IdentityOf(r)
		c.abortRelease(r.Context(), w, rel, AuditEntry{Who: id.Subject, Auth: id.Auth, From: id.From, Action: "abort gray release"})
	}
}

func (c *Control) abortRelease(ctx context.Context, w http.ResponseWriter, rel configsource.Releaser, entry AuditEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	cur, stable, err := rel.Release(ctx)
	if err == nil && cur == nil {
		err = configsource.ErrNoRelease
	}
	entry.At, entry.VersionAfter = c.o.Now().UTC(), stable
	if cur != nil {
		entry.VersionBefore = cur.Candidate
	}
	if err == nil {
		err = rel.Abort(ctx)
	}
	if err != nil {
		c.record(entry, "refused: "+err.Error())
		if w != nil {
			writeSourceError(w, err)
		}
		return
	}
	c.record(entry, "ok")
	if w != nil {
		WriteJSON(w, http.StatusOK, map[string]any{"stable": stable, "aborted": entry.VersionBefore})
	}
}
