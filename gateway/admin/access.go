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
	// Tokens, when any, are the bearer tokens accepted (their SHA-256
	// digests, names and roles); every request but the health checks and
	// the dashboard's static files then needs one.
	Tokens []Token
	// CertRoles maps a client certificate's subject common name to its
	// role; empty: every verified certificate is admin, set: an unlisted
	// one is viewer.
	CertRoles map[string]Role
	// ClientCert requires a verified client certificate on every request
	// but the health checks (the listener verifies any certificate
	// offered; this refuses requests that offered none).
	ClientCert bool
	// Pprof serves /debug/pprof/.
	Pprof bool
}

// public are the requests load balancers and browsers make before they
// can authenticate: the health checks, and the dashboard's page, script
// and styles (no data; the page asks for a token when one is needed).
func public(r *http.Request) (health, static bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false, false
	}
	switch r.URL.Path {
	case "/healthz", "/readyz":
		return true, true
	case "/", "/dashboard", "/dashboard/dashboard.js", "/dashboard/dashboard.css":
		return false, true
	}
	return false, false
}

// Authenticated reports whether requests must prove who they are (a
// token or a client certificate); without, only loopback clients are
// served, read-write.
func (a Access) Authenticated() bool { return len(a.Tokens) > 0 || a.ClientCert }

// guard wraps the admin mux with a's checks, in this order: Host, client
// certificate, bearer token (or, with neither configured, a loopback
// client), then for state-changing requests origin and AdminHeader, then
// the role the request needs. Each refusal is a google.rpc.Status saying
// what to send.
func (a Access) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if msg := a.checkHost(r.Host); msg != "" {
			rpcstatus.WriteStatus(w, http.StatusForbidden, codes.PermissionDenied, msg)
			return
		}
		health, static := public(r)
		id := Identity{Role: RoleAdmin, Subject: "local", Auth: "none", From: r.RemoteAddr}
		if !a.Authenticated() && !health && !loopbackClient(r.RemoteAddr) {
			rpcstatus.WriteStatus(w, http.StatusForbidden, codes.PermissionDenied,
				"admin API: no admin_security.tokens or tls.client_ca are configured, so only loopback clients are served "+
					"(local development); configure tokens to use it from "+quote(r.RemoteAddr))
			return
		}
		if a.ClientCert && !health {
			if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
				rpcstatus.WriteStatus(w, http.StatusForbidden, codes.PermissionDenied,
					"admin API: a client certificate signed by admin_security.tls.client_ca is required")
				return
			}
			id = a.certIdentity(r)
		}
		if len(a.Tokens) > 0 && !static {
			tk, msg, errParam := a.checkToken(r.Header.Get("Authorization"))
			if msg != "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="refract-admin"`+errParam)
				rpcstatus.WriteStatus(w, http.StatusUnauthorized, codes.Unauthenticated, msg)
				return
			}
			id.Role, id.Subject, id.Auth = tk.Role, tk.Name, "token"
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if msg := checkSameOrigin(r); msg != "" {
				rpcstatus.WriteStatus(w, http.StatusForbidden, codes.PermissionDenied, msg)
				return
			}
		}
		if need := requiredRole(r); !health && !static && id.Role < need {
			rpcstatus.WriteStatus(w, http.StatusForbidden, codes.PermissionDenied, "admin API: "+r.Method+" "+r.URL.Path+
				" needs the role "+need.String()+"; "+id.Subject+" has "+id.Role.String())
			return
		}
		next.ServeHTTP(w, r.WithContext(withIdentity(r.Context(), id)))
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

// checkToken returns the token the Authorization header auth carries,
// or says why it is refused, with the WWW-Authenticate error parameter.
// Every digest is compared, in constant time.
func (a Access) checkToken(auth string) (tk Token, msg, errParam string) {
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return tk, "admin API: send Authorization: Bearer TOKEN with one of the tokens of admin_security.tokens", ""
	}
	d := sha256.Sum256([]byte(token))
	found := -1
	for i := range a.Tokens {
		if subtle.ConstantTimeCompare(d[:], a.Tokens[i].Digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return tk, "admin API: the bearer token is not one of admin_security.tokens", `, error="invalid_token"`
	}
	return a.Tokens[found], "", ""
}

// certIdentity is who a verified client certificate names: its subject
// common name, with the role CertRoles gives it.
func (a Access) certIdentity(r *http.Request) Identity {
	cn := r.TLS.VerifiedChains[0][0].Subject.CommonName
	role := RoleAdmin
	if len(a.CertRoles) > 0 {
		role = RoleViewer
		if rl, ok := a.CertRoles[cn]; ok {
			role = rl
		}
	}
	return Identity{Role: role, Subject: cn, Auth: "cert", From: r.RemoteAddr}
}

// loopbackClient reports whether remote (host:port) is a loopback address.
func loopbackClient(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
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
