package gateway

import (
	"net/http"
	"strconv"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/transcode/httpmeta"
)

// serveCached answers r from the route's response cache when it holds a
// fresh entry, and returns r's cache key either way. It runs after the
// route's policies: a cached answer is as authenticated and rate-limited
// as a fresh one, and its key holds who asked.
func (g *Gateway) serveCached(w http.ResponseWriter, r *http.Request, rt *route) (key string, hit bool) {
	var id [4]string
	if info := policy.InfoFrom(r.Context()); info != nil {
		_, authz, apiKey := info.Credentials()
		id = [4]string{info.ConsumerName(), info.Subject, authz, apiKey}
	}
	key = rt.cache.Key(rt.name, r, id[:]...)
	e, ok := rt.cache.Lookup(r.Context(), r, key)
	if !ok {
		w.Header().Set("X-Refract-Cache", "miss")
		return key, false
	}
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	h.Set("X-Refract-Cache", "hit")
	if rt.etag && httpmeta.NotModified(r, h.Get("Etag")) {
		w.WriteHeader(http.StatusNotModified)
		return key, true
	}
	h.Set("Content-Length", strconv.Itoa(len(e.Body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(e.Body)
	return key, true
}
