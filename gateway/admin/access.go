package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"google.golang.org/grpc/codes"
)

// AdminHeader is the header every state-changing admin request (any
// method but GET and HEAD) must carry, with any non-empty value: a
// cross-site form or a simple cross-site fetch cannot send it without a
// CORS preflight, which the admin API never grants.
const AdminHeader = "X-Refract-Admin"

// Access is who may use the admin API. Every request must name in its
// Host header localhost, an IP address or one of Hosts (a DNS-rebinding
// page names its own host); state-changing requests must be same-origin
// (Origin, Sec-Fetch-Site) and carry AdminHeader. The zero value adds no
// authentication and serves no pprof.
type Access struct {
	// Hosts are the host names allowed besides localhost and IP
	// addresses, lower-case, without port.
	Hosts []string
	// Tokens, when any, are the SHA-256 digests of the bearer tokens
	// accepted; every request but the health checks and the console's
	// static files then needs one.
	Tokens [][sha256.Size]byte
	// ClientCert requires a verified client certificate on every request
	// but the health checks (the listener verifies any certificate
	// offered; this refuses requests that offered none).
	ClientCert bool
	// Pprof serves /debug/pprof/.
	Pprof bool
}

// public are the requests load balancers and browsers make before they
// can authenticate: the health checks, and the console's page, scripts
// and styles (no data; the page asks for a token when one is needed).
func public(r *http.Request) (health, static bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false, false
	}
	switch r.URL.Path {
	case "/healthz", "/readyz":
		return true, true
	case "/", "/dashboard":
		return false, true
	}
	return false, strings.HasPrefix(r.URL.Path, "/console/")
}

// guard wraps the admin mux with a's checks, in this order: Host, client
// certificate, bearer token, then for state-changing requests origin and
// AdminHeader. Each refusal is a google.rpc.Status saying what to send.
func (a Access) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if msg := a.checkHost(r.Host); msg != "" {
			rpcstatus.WriteStatus(w, http.StatusForbidden, codes.PermissionDenied, msg)
			return
		}
		health, static := public(r)
		if a.ClientCert && !health && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
			rpcstatus.WriteStatus(w, http.StatusForbidden, codes.PermissionDenied,
				"admin API: a client certificate signed by admin_security.tls.client_ca is required")
			return
		}
		if len(a.Tokens) > 0 && !static {
			if msg, errParam := a.checkToken(r.Header.Get("Authorization")); msg != "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="refract-admin"`+errParam)
				rpcstatus.WriteStatus(w, http.StatusUnauthorized, codes.Unauthenticated, msg)
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if msg := checkSameOrigin(r); msg != "" {
				rpcstatus.WriteStatus(w, http.StatusForbidden, codes.PermissionDenied, msg)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkHost says why host (a Host header, maybe with a port) is refused;
// "" when it is allowed. An IP address cannot be a DNS-rebinding page's
// host (the browser sends the page's name), so every one is allowed.
func (a Access) checkHost(host string) string {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if name == "" {
		return "admin API: the request has no Host header; name the admin listener's address or one of admin_security.hosts"
	}
	if _, err := netip.ParseAddr(name); err == nil || name == "localhost" {
		return ""
	}
	for _, h := range a.Hosts {
		if h == name {
			return ""
		}
	}
	return "admin API: Host " + quote(host) + " is not allowed (a DNS-rebinding page would name its own host): use localhost or an IP address, or add " +
		quote(name) + " to admin_security.hosts"
}

// checkToken says why the Authorization header auth is refused, and the
// WWW-Authenticate error parameter; "" when it carries an accepted token.
// Every digest is compared, in constant time.
func (a Access) checkToken(auth string) (msg, errParam string) {
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "admin API: send Authorization: Bearer TOKEN with one of the tokens of admin_security.tokens", ""
	}
	d := sha256.Sum256([]byte(token))
	match := 0
	for i := range a.Tokens {
		match |= subtle.ConstantTimeCompare(d[:], a.Tokens[i][:])
	}
	if match != 1 {
		return "admin API: the bearer token is not one of admin_security.tokens", `, error="invalid_token"`
	}
	return "", ""
}

// checkSameOrigin says why a state-changing request is refused: sent by
// a page of another origin, or without AdminHeader; "" when it may go on.
func checkSameOrigin(r *http.Request) string {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return "admin API: " + r.Method + " refused: the browser says it comes from another site (Sec-Fetch-Site: " + quote(site) +
			"); the admin API accepts state-changing requests only from its own origin"
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		scheme := "http://"
		if r.TLS != nil {
			scheme = "https://"
		}
		if own := scheme + r.Host; !strings.EqualFold(origin, own) {
			return "admin API: " + r.Method + " refused: Origin " + quote(origin) + " is not the admin listener's own (" + own +
				"); the admin API accepts state-changing requests only from its own origin"
		}
	}
	if r.Header.Get(AdminHeader) == "" {
		return "admin API: " + r.Method + " needs the header " + AdminHeader + ": 1 (e.g. curl -H '" + AdminHeader +
			": 1'), which shows it is not a cross-site form"
	}
	return ""
}

// quote is s in double quotes, its bytes escaped as Go does: a header's
// value is never echoed raw.
func quote(s string) string {
	const max = 100
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}
