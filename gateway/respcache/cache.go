package respcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"
)

// Entry is one cached response.
type Entry struct {
	Status int         `json:"s"`
	Header http.Header `json:"h"`
	Body   []byte      `json:"b"`
}

func (e *Entry) size() int64 {
	n := int64(len(e.Body)) + 64
	for k, vs := range e.Header {
		n += int64(len(k))
		for _, v := range vs {
			n += int64(len(v))
		}
	}
	return n
}

// Store keeps entries by key for a time. Implementations are safe for
// concurrent use; a failing store is a miss, never an error to the client.
type Store interface {
	Get(ctx context.Context, key string) (*Entry, bool)
	Set(ctx context.Context, key string, e *Entry, ttl time.Duration)
}

// Options configure one upstream's cache.
type Options struct {
	// TTL is how long a response is kept when its Cache-Control names no
	// max-age; default 60s.
	TTL time.Duration
	// MaxEntryBytes bounds one cached body; larger responses are not kept.
	// Default 1 MiB.
	MaxEntryBytes int
	// Vary are request headers whose values are part of the key
	// (Accept-Language …).
	Vary []string
	// Store keeps the entries.
	Store Store
}

// Cache is one upstream's response cache. Safe for concurrent use.
type Cache struct {
	o    Options
	vary []string
}

// New returns a cache over o.Store.
func New(o Options) *Cache {
	if o.TTL <= 0 {
		o.TTL = time.Minute
	}
	if o.MaxEntryBytes <= 0 {
		o.MaxEntryBytes = 1 << 20
	}
	c := &Cache{o: o}
	for _, h := range o.Vary {
		c.vary = append(c.vary, http.CanonicalHeaderKey(h))
	}
	sort.Strings(c.vary)
	return c
}

// Key is the key of r on route: the path, the query (parameters decoded
// and sorted, so ?a=1&b=2 and ?b=2&a=1 share an entry),
// the vary headers and identity (whoever the request authenticated as, and
// the credentials it carried), hashed.
func (c *Cache) Key(route string, r *http.Request, identity ...string) string {
	h := sha256.New()
	w := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	w(route)
	w(r.URL.EscapedPath())
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w(k)
		for _, v := range q[k] {
			w(v)
		}
	}
	for _, name := range c.vary {
		w(name)
		w(strings.Join(r.Header.Values(name), ","))
	}
	for _, id := range identity {
		w(id)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Lookup returns r's fresh entry under key, unless r asks not to be served
// from a cache (Cache-Control: no-cache or no-store, Pragma: no-cache).
func (c *Cache) Lookup(ctx context.Context, r *http.Request, key string) (*Entry, bool) {
	if d := directives(r.Header.Values("Cache-Control")); d["no-cache"] || d["no-store"] ||
		strings.Contains(strings.ToLower(r.Header.Get("Pragma")), "no-cache") {
		return nil, false
	}
	return c.o.Store.Get(ctx, key)
}

// keep are the response headers an entry keeps; the rest (Set-Cookie,
// X-Request-Id …) belong to one response.
var keep = []string{"Content-Type", "Etag", "Cache-Control", "Content-Language", "Last-Modified", "Expires"}

// Save keeps a successful response (status 200, its headers h as written
// and its backend's header and trailer metadata) under key for its TTL,
// unless the request said no-store, the backend said no-store, private or
// no-cache (in its Cache-Control metadata or header), or set a cookie, or
// the body is over the size limit.
func (c *Cache) Save(ctx context.Context, r *http.Request, key string, status int, h http.Header, header, trailer metadata.MD, body []byte) {
	if status != http.StatusOK || len(body) > c.o.MaxEntryBytes || directives(r.Header.Values("Cache-Control"))["no-store"] {
		return
	}
	if len(h.Values("Set-Cookie")) > 0 || len(header["set-cookie"]) > 0 || len(trailer["set-cookie"]) > 0 {
		return
	}
	cc := append(append(append([]string(nil), h.Values("Cache-Control")...), header["cache-control"]...), trailer["cache-control"]...)
	d := directives(cc)
	if d["no-store"] || d["private"] || d["no-cache"] {
		return
	}
	ttl := c.o.TTL
	for _, name := range []string{"s-maxage", "max-age"} {
		if v, ok := d.value(name); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				ttl = time.Duration(n) * time.Second
				break
			}
		}
	}
	if ttl <= 0 {
		return
	}
	e := &Entry{Status: status, Header: http.Header{}, Body: append([]byte(nil), body...)}
	for _, k := range keep {
		if vs := h.Values(k); len(vs) > 0 {
			e.Header[k] = append([]string(nil), vs...)
		}
	}
	c.o.Store.Set(ctx, key, e, ttl)
}

// cacheControl holds directives by lower-case name; a directive with a
// value is kept as "name=value" too.
type cacheControl map[string]bool

func directives(lines []string) cacheControl {
	d := cacheControl{}
	for _, line := range lines {
		for _, part := range strings.Split(line, ",") {
			part = strings.ToLower(strings.TrimSpace(part))
			if part == "" {
				continue
			}
			name, _, _ := strings.Cut(part, "=")
			d[name] = true
			d[strings.ReplaceAll(part, `"`, "")] = true
		}
	}
	return d
}

func (d cacheControl) value(name string) (string, bool) {
	for k := range d {
		if v, ok := strings.CutPrefix(k, name+"="); ok {
			return v, true
		}
	}
	return "", false
}
