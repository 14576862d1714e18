package gateway

import (
	"net/http"

	"github.com/refract-gateway/refract/policy"
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
	return key, rt.cache.Serve(w, r, key, rt.etag)
}
