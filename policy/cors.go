package policy

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rs/cors"
)

// CORSOptions are the cross-origin rules. Origins are exact
// ("https://app.example.com") or wildcard subdomains
// ("https://*.example.com"); "*" allows any origin (not with credentials).
type CORSOptions struct {
	AllowedOrigins   []string
	AllowedMethods   []string // default GET, POST, PUT, PATCH, DELETE
	AllowedHeaders   []string // default Content-Type, Authorization, X-Request-Id
	ExposedHeaders   []string
	AllowCredentials bool
	MaxAge           time.Duration // how long browsers may cache a preflight
}

// Validate reports what CORS would refuse in o: no origins, an origin that
// is not "*" or an http(s) origin with at most one wildcard, or "*" with
// credentials.
func (o CORSOptions) Validate() error {
	if len(o.AllowedOrigins) == 0 {
		return fmt.Errorf("policy: cors: allowed_origins is required")
	}
	for _, origin := range o.AllowedOrigins {
		if origin == "*" {
			if o.AllowCredentials {
				return fmt.Errorf("policy: cors: allow_credentials cannot be used with the origin \"*\"; list the origins")
			}
			continue
		}
		if !strings.HasPrefix(origin, "http://") && !strings.HasPrefix(origin, "https://") {
			return fmt.Errorf("policy: cors: origin %q must start with http:// or https://", origin)
		}
		if strings.Count(origin, "*") > 1 {
			return fmt.Errorf("policy: cors: origin %q may hold one wildcard", origin)
		}
	}
	return nil
}

// CORS answers preflights (OPTIONS with Origin and
// Access-Control-Request-Method) itself with 204, before any route is
// matched, and adds CORS headers to actual requests from allowed origins.
// A disallowed origin gets no CORS headers, so the browser blocks it. Built
// on rs/cors.
func CORS(o CORSOptions) (Policy, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if len(o.AllowedMethods) == 0 {
		o.AllowedMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	}
	if len(o.AllowedHeaders) == 0 {
		o.AllowedHeaders = []string{"Content-Type", "Authorization", RequestIDHeader}
	}
	c := cors.New(cors.Options{
		AllowedOrigins:       o.AllowedOrigins,
		AllowedMethods:       o.AllowedMethods,
		AllowedHeaders:       o.AllowedHeaders,
		ExposedHeaders:       o.ExposedHeaders,
		AllowCredentials:     o.AllowCredentials,
		MaxAge:               int(o.MaxAge / time.Second),
		OptionsSuccessStatus: http.StatusNoContent,
	})
	return c.Handler, nil
}
