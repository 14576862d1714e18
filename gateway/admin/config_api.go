package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/configsource"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"github.com/rs/zerolog"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"
)

// maxConfigBytes bounds a config sent to the admin API.
const maxConfigBytes = 4 << 20

// ControlOptions are what the admin API's write side needs from the
// process: where the config lives, what runs, and how to apply a new one.
type ControlOptions struct {
	// Source is where the config was read; changes are written back when
	// it is a configsource.Writer, and gray releases need a
	// configsource.Releaser. Required.
	Source configsource.Source
	// Running returns the config data being served and its parsed
	// config. Required.
	Running func() (configsource.Data, *config.Config)
	// Parse validates config bytes whole, as a reload would. Required.
	Parse func([]byte) (*config.Config, error)
	// Apply swaps the gateway to data (already validated and written to
	// the source); who names the change in the logs. Required.
	Apply func(ctx context.Context, data configsource.Data, who string) error
	// Logger returns the logger of the config being served; default none.
	Logger func() zerolog.Logger
	// Now is the audit log's clock; default time.Now.
	Now func() time.Time
}

// Control is the admin API's write side: GET, PUT and PATCH
// /admin/config, validation, history and rollback, gray releases, the
// audit log. It outlives the configs it changes: create one per process
// with NewControl and give it to every Handler. Safe for concurrent use;
// changes run one at a time.
type Control struct {
	o     ControlOptions
	mu    sync.Mutex // changes, one at a time
	audit auditLog

	effMu  sync.Mutex // the running config's effective form, computed once
	effFor *config.Config
	eff    map[string]any
}

// effective is EffectiveConfig of cfg, remembered for the last config
// asked (the running one: every GET and every diff start from it). The
// map is shared: callers must not modify it.
func (c *Control) effective(cfg *config.Config) (map[string]any, error) {
	c.effMu.Lock()
	defer c.effMu.Unlock()
	if c.effFor == cfg {
		return c.eff, nil
	}
	eff, err := EffectiveConfig(cfg)
	if err != nil {
		return nil, err
	}
	c.effFor, c.eff = cfg, eff
	return eff, nil
}

// NewControl returns the write side over o.
func NewControl(o ControlOptions) (*Control, error) {
	if o.Source == nil || o.Running == nil || o.Parse == nil || o.Apply == nil {
		return nil, errors.New("admin: NewControl needs Source, Running, Parse and Apply")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zerolog.Nop
	}
	return &Control{o: o}, nil
}

// mount adds the config and audit endpoints to mux.
func (c *Control) mount(mux *endpointMux) {
	mux.HandleFunc("GET /admin/config", c.getConfig)
	mux.HandleFunc("PUT /admin/config", c.putConfig)
	mux.HandleFunc("PATCH /admin/config", c.patchConfig)
	mux.HandleFunc("POST /admin/config/validate", c.validate)
	mux.HandleFunc("GET /admin/config/history", c.history)
	mux.HandleFunc("POST /admin/config/rollback", c.rollback)
	mux.HandleFunc("GET /admin/audit", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]any{"entries": c.audit.list()})
	})
	c.mountRelease(mux)
}

func (c *Control) getConfig(w http.ResponseWriter, r *http.Request) {
	data, cfg := c.o.Running()
	eff, err := c.effective(cfg)
	if err != nil {
		writeAdminError(w, err)
		return
	}
	resp := map[string]any{"version": data.Version(), "source": c.sourceName(), "config": eff, "yaml": nil}
	if data.Track != "" {
		resp["track"] = data.Track
	}
	// The source text, its secrets redacted as in the effective config;
	// a PUT of it with the placeholders keeps the running secrets.
	if text, err := RedactYAML(data.Bytes); err == nil {
		resp["yaml"] = text
	}
	w.Header().Set("ETag", strconv.Quote(data.Version()))
	WriteJSON(w, http.StatusOK, resp)
}

// sourceName is the contract's "file:PATH", "consul:KEY" or "static".
func (c *Control) sourceName() string {
	switch s := c.o.Source.String(); {
	case strings.HasPrefix(s, "consul://"):
		return "consul:" + s
	case isWriter(c.o.Source):
		return "file:" + s
	default:
		return "static"
	}
}

func isWriter(s configsource.Source) bool { _, ok := s.(configsource.Writer); return ok }

// readConfigBody reads a config sent as YAML or JSON (by Content-Type).
func readConfigBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxConfigBytes))
	if err != nil {
		rpcstatus.WriteStatus(w, http.StatusRequestEntityTooLarge, codes.InvalidArgument,
			fmt.Sprintf("admin API: the config must be at most %d bytes: %v", maxConfigBytes, err))
		return nil, false
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		if b, err = jsonToYAML(b); err != nil {
			rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument, "admin API: the body is "+err.Error())
			return nil, false
		}
	}
	return b, true
}

func (c *Control) putConfig(w http.ResponseWriter, r *http.Request) {
	if b, ok := readConfigBody(w, r); ok {
		c.change(w, r, "PUT /admin/config", func([]byte) ([]byte, error) { return b, nil })
	}
}

func (c *Control) patchConfig(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/merge-patch+json" {
		rpcstatus.WriteStatus(w, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			"admin API: PATCH /admin/config takes a JSON merge patch: Content-Type: application/merge-patch+json")
		return
	}
	patch, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxConfigBytes))
	if err != nil {
		rpcstatus.WriteStatus(w, http.StatusRequestEntityTooLarge, codes.InvalidArgument, "admin API: patch too large: "+err.Error())
		return
	}
	c.change(w, r, "PATCH /admin/config", func(running []byte) ([]byte, error) { return MergePatch(running, patch) })
}

func (c *Control) rollback(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Version string `json:"version"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil || req.Version == "" {
		rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument, `admin API: send {"version":"<a version of GET /admin/config/history>"}`)
		return
	}
	c.change(w, r, "rollback to "+req.Version, func([]byte) ([]byte, error) {
		hist, err := c.writer().History(r.Context())
		if err != nil {
			return nil, err
		}
		for _, v := range hist {
			if v.Version == req.Version {
				return []byte(v.YAML), nil
			}
		}
		return nil, errNotInHistory
	})
}

var errNotInHistory = errors.New("admin API: no such version in the history (see GET /admin/config/history)")

func (c *Control) writer() configsource.Writer { w, _ := c.o.Source.(configsource.Writer); return w }

// change is every config change: check the If-Match version, make the
// new bytes from the running ones, validate them whole, write them to the
// source (check-and-set), apply them, and record the version and the
// audit entry. Any failure before the apply changes nothing; a refused
// apply restores the source.
func (c *Control) change(w http.ResponseWriter, r *http.Request, action string, next func(running []byte) ([]byte, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx := context.WithoutCancel(r.Context()) // a change, once begun, runs to its end
	running, cfg := c.o.Running()
	writer := c.writer()
	if writer == nil {
		rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.FailedPrecondition, "admin API: the config source "+
			c.o.Source.String()+" cannot be written: run refract with -config FILE or consul://HOST:PORT/KEY to change the config through the API")
		return
	}
	if msg := checkIfMatch(r, running.Version()); msg != "" {
		rpcstatus.WriteStatus(w, http.StatusPreconditionFailed, codes.FailedPrecondition, msg)
		return
	}
	if rel, ok := c.o.Source.(configsource.Releaser); ok {
		if cur, _, err := rel.Release(ctx); err != nil {
			writeSourceError(w, err)
			return
		} else if cur != nil {
			rpcstatus.WriteStatus(w, http.StatusConflict, codes.Aborted, "admin API: a gray release of "+cur.Candidate+
				" is in progress: promote or abort it (POST /admin/config/promote or /abort) before changing the config")
			return
		}
	}
	b, err := next(running.Bytes)
	if errors.Is(err, errNotInHistory) {
		rpcstatus.WriteStatus(w, http.StatusNotFound, codes.NotFound, err.Error())
		return
	} else if err != nil {
		rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument, "admin API: "+err.Error())
		return
	}
	b, missing, err := restoreRedacted(b, running.Bytes)
	if err != nil || len(missing) > 0 {
		rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.InvalidArgument, fmt.Sprintf("admin API: the config holds the placeholder %q at %s, "+
			"where the running config has no secret to keep: write the secret itself (or its env or file) there", redacted, strings.Join(missing, ", ")))
		return
	}
	newCfg, err := c.o.Parse(b)
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
	entry := AuditEntry{At: c.o.Now().UTC(), Who: id.Subject, Auth: id.Auth, From: id.From, Action: action,
		VersionBefore: running.Version(), VersionAfter: configsource.Data{Bytes: b}.Version(), Diff: diff, Outcome: "ok"}
	result := map[string]any{"version": entry.VersionAfter, "previous": entry.VersionBefore, "diff": diff}
	if entry.VersionAfter == entry.VersionBefore {
		WriteJSON(w, http.StatusOK, result) // the same bytes: nothing to write or apply
		return
	}
	// The check-and-set is on the source as read now: its index may have
	// moved with no change of bytes (a promoted candidate), and its bytes
	// may be ahead of what this instance applied.
	cur, err := c.o.Source.Read(ctx)
	if err == nil && cur.Version() != running.Version() {
		err = fmt.Errorf("%w (the source holds %s; this instance runs %s and has not applied it yet)", configsource.ErrConflict, cur.Version(), running.Version())
	}
	var stored configsource.Data
	if err == nil {
		stored, err = writer.Write(ctx, b, cur)
	}
	if err != nil {
		c.record(entry, "refused: "+err.Error())
		writeSourceError(w, err)
		return
	}
	if err := c.o.Apply(ctx, stored, id.Subject); err != nil {
		// Refused at apply (e.g. an upstream never became ready): the
		// source goes back to what runs, so that it says what runs.
		_, rerr := writer.Write(ctx, running.Bytes, stored)
		msg := "admin API: the config is valid but was refused when applied; the source was restored: " + err.Error()
		if rerr != nil {
			msg = "admin API: the config is valid but was refused when applied, and restoring the source failed (" + rerr.Error() + "): " + err.Error()
		}
		c.record(entry, "refused: "+err.Error())
		rpcstatus.WriteStatus(w, http.StatusBadRequest, codes.FailedPrecondition, msg)
		return
	}
	if err := c.recordVersion(ctx, writer, running, entry, b); err != nil {
		log := c.o.Logger()
		log.Error().Err(err).Msg("config applied, but its history entry was not written")
	}
	c.record(entry, "ok")
	WriteJSON(w, http.StatusOK, result)
}

// recordVersion adds the new version to the source's history; the first
// time, the version that ran before goes in first, so that a rollback can
// reach it.
func (c *Control) recordVersion(ctx context.Context, wr configsource.Writer, running configsource.Data, e AuditEntry, b []byte) error {
	hist, err := wr.History(ctx)
	if err != nil {
		return err
	}
	if len(hist) == 0 || hist[0].Version != running.Version() {
		prev := configsource.Version{Version: running.Version(), At: e.At.Add(-time.Nanosecond), Who: "source",
			Summary: "the config as read from the source", YAML: string(running.Bytes)}
		if err := wr.Record(ctx, prev); err != nil {
			return err
		}
	}
	diff, _ := json.Marshal(e.Diff)
	return wr.Record(ctx, configsource.Version{Version: e.VersionAfter, At: e.At, Who: e.Who, From: e.From,
		Summary: e.Action + ": " + summarize(e.Diff), Diff: diff, YAML: string(b)})
}

// record adds e, with its outcome, to the audit log and the process log.
func (c *Control) record(e AuditEntry, outcome string) {
	e.Outcome = outcome
	log := c.o.Logger()
	_, cfg := c.o.Running()
	if err := c.audit.add(e, cfg.AdminSecurity.AuditLog); err != nil {
		log.Error().Err(err).Msg("audit entry not written to the audit log file")
	}
	log.Info().Str("audit", e.Action).Str("who", e.Who).Str("from", e.From).Str("version_before", e.VersionBefore).
		Str("version_after", e.VersionAfter).Int("changes", len(e.Diff)).Str("outcome", outcome).Msg("admin change")
}

// checkIfMatch says why r's If-Match does not name version; "" when it
// does or is absent.
func checkIfMatch(r *http.Request, version string) string {
	im := r.Header.Get("If-Match")
	if im == "" || im == "*" {
		return ""
	}
	for _, v := range strings.Split(im, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if strings.Trim(v, `"`) == version {
			return ""
		}
	}
	return "admin API: If-Match names " + quote(strings.Trim(im, `"`)) + " but version " + strconv.Quote(version) +
		" runs: the config changed since you read it; GET /admin/config again, redo your change on it, and send it with the new ETag"
}

// configDiff is the change from the running config a to b.
func (c *Control) configDiff(a, b *config.Config) ([]Change, error) {
	ea, err := c.effective(a)
	if err != nil {
		return nil, err
	}
	eb, err := EffectiveConfig(b)
	if err != nil {
		return nil, err
	}
	return Diff(ea, eb), nil
}

// writeSourceError answers a failed write to the config source: 409
// ABORTED when another editor wrote it first, 409 for a release state
// that does not allow it, 503 when the source cannot be reached.
func writeSourceError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, configsource.ErrConflict):
		rpcstatus.WriteStatus(w, http.StatusConflict, codes.Aborted, "admin API: "+err.Error())
	case errors.Is(err, configsource.ErrNoRelease), errors.Is(err, configsource.ErrReleaseInProgress):
		rpcstatus.WriteStatus(w, http.StatusConflict, codes.FailedPrecondition, "admin API: "+err.Error())
	default:
		rpcstatus.WriteStatus(w, http.StatusServiceUnavailable, codes.Unavailable, "admin API: the config source: "+err.Error())
	}
}

// Problem is one config error, located: the line and key path when the
// config says them.
type Problem struct {
	Line    int    `json:"line,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

var problemLine = regexp.MustCompile(`^(?:.*?: )?line (\d+): (?:([A-Za-z0-9_.\[\]-]+): )?(.*)$`)

// Problems splits a validation error into every problem it holds.
func Problems(err error) []Problem {
	var out []Problem
	for _, e := range flatten(err) {
		msg := e.Error()
		if m := problemLine.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			out = append(out, Problem{Line: line, Path: m[2], Message: m[3]})
			continue
		}
		out = append(out, Problem{Message: msg})
	}
	return out
}

// flatten is err's joined errors, through wrapping.
func flatten(err error) []error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			var out []error
			for _, x := range j.Unwrap() {
				out = append(out, flatten(x)...)
			}
			return out
		}
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// writeConfigErrors answers a config that does not validate: 400
// INVALID_ARGUMENT, with every problem as a BadRequest field violation
// ("field": the key path, "description": "line N: what is wrong").
func writeConfigErrors(w http.ResponseWriter, err error) {
	probs := Problems(err)
	br := &errdetails.BadRequest{}
	for _, p := range probs {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: p.Path,
			Description: fmt.Sprintf("line %d: %s", p.Line, p.Message)})
	}
	st := &spb.Status{Code: int32(codes.InvalidArgument), Message: fmt.Sprintf("admin API: the config is invalid (%d problems): %v", len(probs), err)}
	if a, aerr := anypb.New(br); aerr == nil {
		st.Details = append(st.Details, a)
	}
	rpcstatus.WriteProto(w, http.StatusBadRequest, st)
}

// validate is the dry run: every problem, and the diff against what runs.
func (c *Control) validate(w http.ResponseWriter, r *http.Request) {
	b, ok := readConfigBody(w, r)
	if !ok {
		return
	}
	_, cfg := c.o.Running()
	newCfg, err := c.o.Parse(b)
	if err != nil {
		WriteJSON(w, http.StatusOK, map[string]any{"valid": false, "errors": Problems(err), "diff": []Change{}})
		return
	}
	diff, err := c.configDiff(cfg, newCfg)
	if err != nil {
		writeAdminError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"valid": true, "errors": []Problem{}, "diff": diff,
		"version": configsource.Data{Bytes: b}.Version()})
}

func (c *Control) history(w http.ResponseWriter, r *http.Request) {
	wr := c.writer()
	if wr == nil {
		WriteJSON(w, http.StatusOK, map[string]any{"versions": []any{}})
		return
	}
	hist, err := wr.History(r.Context())
	if err != nil {
		writeSourceError(w, err)
		return
	}
	type entry struct {
		configsource.Version
		YAML string `json:"yaml,omitempty"` // not listed: secrets; a rollback reads it
	}
	out := make([]entry, len(hist))
	for i, v := range hist {
		out[i] = entry{Version: v}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"versions": out})
}
