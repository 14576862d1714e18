package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AuditEntry is one change made through the admin API: who, when, from
// where, what, and the config versions before and after with the diff.
type AuditEntry struct {
	At            time.Time `json:"at"`
	Who           string    `json:"who"`
	Auth          string    `json:"auth"`
	From          string    `json:"from"`
	Action        string    `json:"action"`
	VersionBefore string    `json:"version_before,omitempty"`
	VersionAfter  string    `json:"version_after,omitempty"`
	Diff          []Change  `json:"diff,omitempty"`
	// Outcome is "ok" or why the change was refused.
	Outcome string `json:"outcome"`
}

// auditKeep is how many entries GET /admin/audit shows (the file keeps
// them all).
const auditKeep = 500

// auditLog keeps the last entries in memory and appends each to a file
// when one is configured. Safe for concurrent use.
type auditLog struct {
	mu      sync.Mutex
	entries []AuditEntry // oldest first
}

// add records e in memory and, when path is set, appends it to the file
// as one JSON line (opened for each entry, so a rotated file is followed).
func (a *auditLog) add(e AuditEntry, path string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	if len(a.entries) > auditKeep {
		a.entries = append(a.entries[:0:0], a.entries[len(a.entries)-auditKeep:]...)
	}
	if path == "" {
		return nil
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("admin: audit log: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("admin: audit log: %w", err)
	}
	return nil
}

// list returns the entries, newest first.
func (a *auditLog) list() []AuditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]AuditEntry, len(a.entries))
	for i, e := range a.entries {
		out[len(out)-1-i] = e
	}
	return out
}

// auditOthers records in the audit log every state-changing request but
// the config's own (which record their versions and diff): reloads,
// descriptor refreshes, approvals, drains.
func (c *Control) auditOthers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead || strings.HasPrefix(r.URL.Path, "/admin/config") {
			next.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		before, _ := c.o.Running()
		next.ServeHTTP(rec, r)
		after, _ := c.o.Running()
		id := IdentityOf(r)
		outcome := "ok"
		if rec.code >= 400 {
			outcome = "refused: HTTP " + strconv.Itoa(rec.code)
		}
		c.record(AuditEntry{At: c.o.Now().UTC(), Who: id.Subject, Auth: id.Auth, From: id.From, Action: r.Method + " " + r.URL.Path,
			VersionBefore: before.Version(), VersionAfter: after.Version()}, outcome)
	})
}

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
