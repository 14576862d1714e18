package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/refract-gateway/refract/gateway/admin"
)

// maxResponse bounds what the client reads of an answer.
const maxResponse = 16 << 20

// Client calls one gateway's admin API. Safe for concurrent use.
type Client struct {
	// Base is the admin listener's URL, e.g. http://127.0.0.1:9901.
	Base string
	// Token, when set, is sent as Authorization: Bearer Token.
	Token string
	// HTTP is the client used; default one with a 60s timeout.
	HTTP *http.Client
}

// New returns a client of the admin API at base.
func New(base, token string) *Client {
	return &Client{Base: strings.TrimRight(base, "/"), Token: token, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// Error is an answer the admin API refused: its HTTP status and the
// google.rpc.Status it sent.
type Error struct {
	HTTPStatus int
	Code       int               `json:"code"`
	Message    string            `json:"message"`
	Details    []json.RawMessage `json:"details"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("admin API: HTTP %d: %s", e.HTTPStatus, e.Message)
}

// Change and Problem are the server's own types: client and server
// cannot drift apart on them.
type (
	// Change is one difference between two configs.
	Change = admin.Change
	// Problem is one config error.
	Problem = admin.Problem
)

// Config is GET /admin/config.
type Config struct {
	Version string         `json:"version"`
	Source  string         `json:"source"`
	Track   string         `json:"track,omitempty"`
	Config  map[string]any `json:"config"`
	// YAML is the source text; empty unless the caller has the admin role.
	YAML string `json:"yaml"`
}

// Result is the answer to a change: the new version, the one before,
// and what changed.
type Result struct {
	Version  string   `json:"version"`
	Previous string   `json:"previous"`
	Diff     []Change `json:"diff"`
}

// Validation is POST /admin/config/validate.
type Validation struct {
	Valid   bool      `json:"valid"`
	Version string    `json:"version,omitempty"`
	Errors  []Problem `json:"errors"`
	Diff    []Change  `json:"diff"`
}

// Version is one entry of the config's history.
type Version struct {
	Version string    `json:"version"`
	At      time.Time `json:"at"`
	Who     string    `json:"who"`
	From    string    `json:"from"`
	Summary string    `json:"summary"`
	Diff    []Change  `json:"diff"`
}

// Release is GET /admin/config/release.
type Release struct {
	Stable       string    `json:"stable"`
	Candidate    *string   `json:"candidate"`
	Share        int       `json:"share"`
	Instances    []string  `json:"instances"`
	StartedAt    time.Time `json:"started_at"`
	Who          string    `json:"who"`
	ThisInstance struct {
		ID      string `json:"id"`
		Runs    string `json:"runs"`
		Version string `json:"version"`
	} `json:"this_instance"`
}

// Get reads the running config.
func (c *Client) Get(ctx context.Context) (*Config, error) {
	var out Config
	return &out, c.do(ctx, "GET", "/admin/config", "", nil, "", &out)
}

// Apply replaces the config with yaml. ifMatch, when set, is the version
// the change was made on: a gateway that runs another answers 412.
func (c *Client) Apply(ctx context.Context, yaml []byte, ifMatch string) (*Result, error) {
	var out Result
	return &out, c.do(ctx, "PUT", "/admin/config", "application/yaml", yaml, ifMatch, &out)
}

// Patch applies a JSON merge patch to the config.
func (c *Client) Patch(ctx context.Context, patch []byte, ifMatch string) (*Result, error) {
	var out Result
	return &out, c.do(ctx, "PATCH", "/admin/config", "application/merge-patch+json", patch, ifMatch, &out)
}

// Validate checks yaml without applying it: every problem, and the diff
// against the running config.
func (c *Client) Validate(ctx context.Context, yaml []byte) (*Validation, error) {
	var out Validation
	return &out, c.do(ctx, "POST", "/admin/config/validate", "application/yaml", yaml, "", &out)
}

// History lists the config's versions, newest first.
func (c *Client) History(ctx context.Context) ([]Version, error) {
	var out struct {
		Versions []Version `json:"versions"`
	}
	return out.Versions, c.do(ctx, "GET", "/admin/config/history", "", nil, "", &out)
}

// Rollback applies an earlier version from the history.
func (c *Client) Rollback(ctx context.Context, version, ifMatch string) (*Result, error) {
	body, _ := json.Marshal(map[string]string{"version": version})
	var out Result
	return &out, c.do(ctx, "POST", "/admin/config/rollback", "application/json", body, ifMatch, &out)
}

// Release reads the gray release in progress.
func (c *Client) Release(ctx context.Context) (*Release, error) {
	var out Release
	return &out, c.do(ctx, "GET", "/admin/config/release", "", nil, "", &out)
}

// StartRelease publishes yaml as the candidate, run by share percent of
// the instances or by the instances named.
func (c *Client) StartRelease(ctx context.Context, yaml []byte, share int, instances []string) error {
	body, _ := json.Marshal(map[string]any{"yaml": string(yaml), "share": share, "instances": instances})
	return c.do(ctx, "POST", "/admin/config/release", "application/json", body, "", nil)
}

// Promote makes the candidate every instance's config.
func (c *Client) Promote(ctx context.Context) (*Result, error) {
	var out Result
	return &out, c.do(ctx, "POST", "/admin/config/promote", "", nil, "", &out)
}

// Abort returns every instance to the stable config.
func (c *Client) Abort(ctx context.Context) error {
	return c.do(ctx, "POST", "/admin/config/abort", "", nil, "", nil)
}

func (c *Client) do(ctx context.Context, method, path, ctype string, body []byte, ifMatch string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", strconv.Quote(ifMatch))
	}
	if method != http.MethodGet {
		req.Header.Set("X-Refract-Admin", "1") // the admin API's proof that this is no cross-site form
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		e := &Error{HTTPStatus: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(b))
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("admin API: %s %s: unreadable answer: %w", method, path, err)
	}
	return nil
}
