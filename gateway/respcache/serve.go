package respcache

import (
	"net/http"
	"strconv"

	"github.com/refract-gateway/refract/transcode/httpmeta"
)

// Serve answers r from its fresh entry under key when there is one (see
// Lookup) and reports whether it did: the entry's headers, then 304 when
// etag is on and r's If-None-Match matches the entry's ETag, else the
// entry's status and body. Either way the answer says X-Refract-Cache
// hit or miss.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, key string, etag bool) bool {
	e, ok := c.Lookup(r.Context(), r, key)
	if !ok {
		w.Header().Set("X-Refract-Cache", "miss")
		return false
	}
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	h.Set("X-Refract-Cache", "hit")
	if etag && httpmeta.NotModified(r, h.Get("Etag")) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	h.Set("Content-Length", strconv.Itoa(len(e.Body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(e.Body)
	return true
}
