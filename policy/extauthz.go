package policy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/refract-gateway/refract/transcode/rpcstatus"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
)

// ExtAuthzOptions configures an external authorizer, asked before each
// call of the routes it covers. Exactly one of HTTPURL and GRPC is set.
type ExtAuthzOptions struct {
	// HTTPURL is asked with GET, carrying the request's method, path and
	// client address in X-Forwarded-Method, X-Forwarded-Uri and
	// X-Forwarded-For, the route in X-Refract-Route and X-Refract-Method,
	// and the SendHeaders. A 2xx allows; 4xx denies, its status, body and
	// Content-Type / WWW-Authenticate / Location headers passing through to
	// the client; anything else is a failure (FailOpen decides).
	HTTPURL string
	// HTTPClient defaults to a client without redirects.
	HTTPClient *http.Client
	// UpstreamHeaders are the authorizer's response headers (HTTP) that are
	// added to the call as metadata on allow (e.g. X-User-Id → x-user-id);
	// with GRPC, the ok_response headers it vouches for. Either way a
	// client's own values under these names are dropped; the gateway also
	// drops them on routes that do not ask the authorizer.
	UpstreamHeaders []string
	// GRPC is an envoy.service.auth.v3.Authorization client: Check gets
	// the same attributes; an OK status allows (its ok_response headers
	// become metadata), any other denies (denied_response's status, headers
	// and body pass through; 403 by default).
	GRPC authv3.AuthorizationClient
	// SendHeaders are the request headers sent to the authorizer; default
	// Authorization.
	SendHeaders []string
	// Timeout bounds one decision; default 1s.
	Timeout time.Duration
	// FailOpen allows requests when the authorizer fails or times out;
	// otherwise they get 503.
	FailOpen bool
	// CacheTTL keeps decisions for identical requests (method, host, path,
	// client address, sent headers, route) this long; 0: no cache.
	CacheTTL time.Duration
	// CacheSize bounds the cache; default 10000 decisions.
	CacheSize int
	Logger    zerolog.Logger
}

// ExtAuthz asks an external service whether a request may proceed. Safe
// for concurrent use; the decision cache is its only state.
type ExtAuthz struct {
	o     ExtAuthzOptions
	send  []string // canonical header names
	mu    sync.Mutex
	cache map[[32]byte]cachedDecision
}

type cachedDecision struct {
	d       *decision
	expires time.Time
}

// decision is an authorizer's answer.
type decision struct {
	allow    bool
	metadata []string // key, value pairs added on allow
	remove   []string // request headers to drop on allow
	status   int      // on deny
	code     codes.Code
	message  string // the authorizer's reason, for an empty body
	header   http.Header
	body     []byte
}

// CheckExtAuthz reports what NewExtAuthz would refuse in o: not exactly
// one of an http(s) URL and a gRPC service, negative timeout, cache_ttl or
// cache_size, an upstream header that cannot be metadata. grpc stands for
// o.GRPC != nil, so a config can be checked before its client is built.
func CheckExtAuthz(o ExtAuthzOptions, grpc bool) error {
	switch {
	case o.HTTPURL != "" && grpc:
		return errors.New("policy: ext_authz: http and grpc exclude each other")
	case o.HTTPURL != "":
		u, err := url.Parse(o.HTTPURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("policy: ext_authz: %q is not an http(s) URL", o.HTTPURL)
		}
	case !grpc:
		return errors.New("policy: ext_authz needs an http url or a grpc service")
	}
	if o.Timeout < 0 || o.CacheTTL < 0 || o.CacheSize < 0 {
		return errors.New("policy: ext_authz: timeout, cache_ttl and cache_size must be positive")
	}
	for _, h := range o.UpstreamHeaders {
		if !rpcstatus.SettableMetadataKey(strings.ToLower(h)) {
			return fmt.Errorf("policy: ext_authz: upstream header %q cannot become metadata the gateway sets: use a header name of letters, digits and '-', not a reserved or -bin one", h)
		}
	}
	return nil
}

// NewExtAuthz validates o (see CheckExtAuthz).
func NewExtAuthz(o ExtAuthzOptions) (*ExtAuthz, error) {
	if err := CheckExtAuthz(o, o.GRPC != nil); err != nil {
		return nil, err
	}
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	if o.CacheSize == 0 {
		o.CacheSize = 10000
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if len(o.SendHeaders) == 0 {
		o.SendHeaders = []string{"Authorization"}
	}
	a := &ExtAuthz{o: o, cache: map[[32]byte]cachedDecision{}}
	for _, h := range o.SendHeaders {
		a.send = append(a.send, http.CanonicalHeaderKey(h))
	}
	return a, nil
}

// Unavailable is a stage that refuses every request with 503 and msg: the
// fail-closed stand-in for a check that was asked for but cannot run (a
// route asking for ext_authz with no authorizer configured).
func Unavailable(msg string) Policy {
	return func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			rpcstatus.WriteStatus(w, http.StatusServiceUnavailable, codes.Unavailable, msg)
		})
	}
}

// Policy returns the stage for one route: route is its name as the admin
// API shows it, method the gRPC method, upstream its upstream.
func (a *ExtAuthz) Policy(route, method, upstream string) Policy {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info := InfoFrom(r.Context())
			ip := ""
			if info != nil && info.ClientIP.IsValid() {
				ip = info.ClientIP.String()
			}
			d, err := a.decide(r.Context(), r, ip, route, method, upstream)
			if err != nil {
				if a.o.FailOpen {
					a.o.Logger.Warn().Err(err).Str("route", route).Msg("external authorizer failed; admitting (failure_mode open)")
					next.ServeHTTP(w, r)
					return
				}
				a.o.Logger.Error().Err(err).Str("route", route).Msg("external authorizer failed; refusing (failure_mode closed)")
				w.Header().Set("Retry-After", "1")
				rpcstatus.WriteStatus(w, http.StatusServiceUnavailable, codes.Unavailable,
					"the authorization service could not decide on this request; retry later")
				return
			}
			if !d.allow {
				a.deny(w, d)
				return
			}
			for _, h := range d.remove {
				r.Header.Del(h)
			}
			// What the authorizer may vouch for, a client must never send,
			// whether or not this answer carries it.
			for _, h := range a.o.UpstreamHeaders {
				r.Header.Del(h)
				r.Header.Del("Grpc-Metadata-" + h)
			}
			for i := 0; i+1 < len(d.metadata); i += 2 {
				// A client must not be able to send what the authorizer vouches for.
				r.Header.Del(d.metadata[i])
				r.Header.Del("Grpc-Metadata-" + d.metadata[i])
				if info != nil {
					info.Metadata = append(info.Metadata, d.metadata[i], d.metadata[i+1])
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (a *ExtAuthz) deny(w http.ResponseWriter, d *decision) {
	if len(d.body) == 0 {
		for k, v := range d.header {
			w.Header()[k] = v
		}
		msg := "the request was denied by the authorization service"
		if d.message != "" {
			msg += ": " + d.message
		}
		rpcstatus.WriteStatus(w, d.status, d.code, msg)
		return
	}
	h := w.Header()
	for k, v := range d.header {
		h[k] = v
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	rpcstatus.RecordCode(w, int32(d.code))
	w.WriteHeader(d.status)
	_, _ = w.Write(d.body)
}

// denialCode is the gRPC code of an authorizer's 4xx denial: the standard
// table's reading of the status where it has one, else PERMISSION_DENIED.
func denialCode(status int) codes.Code {
	if c := rpcstatus.Code(status); c != codes.Unknown && c != codes.OK {
		return c
	}
	return codes.PermissionDenied
}

// Verdict is an authorizer's decision for a caller that answers the
// client itself (the authorizer's denial body and headers are left out).
type Verdict struct {
	// Allow is the decision.
	Allow bool
	// Metadata are key (lower-case), value pairs for the call, on allow.
	Metadata []string
	// Remove are the request headers to drop, on allow.
	Remove []string
	// Status is the HTTP status (4xx) the authorizer denied with.
	Status int
}

// Ask asks the authorizer about r (or answers from its decision cache),
// bounded by ctx and the authorizer's timeout. An error is no decision: a
// failure, a timeout or ctx ending. Safe for concurrent use.
func (a *ExtAuthz) Ask(ctx context.Context, r *http.Request, route, method, upstream string) (Verdict, error) {
	ip := ""
	if info := InfoFrom(r.Context()); info != nil && info.ClientIP.IsValid() {
		ip = info.ClientIP.String()
	}
	d, err := a.decide(ctx, r, ip, route, method, upstream)
	if err != nil {
		return Verdict{}, err
	}
	return Verdict{Allow: d.allow, Metadata: d.metadata, Remove: d.remove, Status: d.status}, nil
}

// decide answers from the cache or asks the authorizer, within ctx.
func (a *ExtAuthz) decide(ctx context.Context, r *http.Request, ip, route, method, upstream string) (*decision, error) {
	var key [32]byte
	if a.o.CacheTTL > 0 {
		h := sha256.New()
		for _, s := range []string{r.Method, r.Host, r.URL.RequestURI(), ip, route, method, upstream} {
			_, _ = io.WriteString(h, s)
			_, _ = h.Write([]byte{0})
		}
		for _, name := range a.send {
			for _, v := range r.Header.Values(name) {
				_, _ = io.WriteString(h, name+": "+v)
				_, _ = h.Write([]byte{0})
			}
		}
		h.Sum(key[:0])
		a.mu.Lock()
		c, ok := a.cache[key]
		a.mu.Unlock()
		if ok && time.Now().Before(c.expires) {
			return c.d, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, a.o.Timeout)
	defer cancel()
	var d *decision
	var err error
	if a.o.GRPC != nil {
		d, err = a.checkGRPC(ctx, r, ip, route, method, upstream)
	} else {
		d, err = a.checkHTTP(ctx, r, ip, route, method)
	}
	if err != nil {
		return nil, err
	}
	if a.o.CacheTTL > 0 {
		now := time.Now()
		a.mu.Lock()
		if len(a.cache) >= a.o.CacheSize {
			for k, c := range a.cache {
				if now.After(c.expires) {
					delete(a.cache, k)
				}
			}
			if len(a.cache) >= a.o.CacheSize {
				clear(a.cache) // all fresh: start over rather than grow
			}
		}
		a.cache[key] = cachedDecision{d: d, expires: now.Add(a.o.CacheTTL)}
		a.mu.Unlock()
	}
	return d, nil
}

func (a *ExtAuthz) checkHTTP(ctx context.Context, r *http.Request, ip, route, method string) (*decision, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.o.HTTPURL, nil)
	if err != nil {
		return nil, err
	}
	for _, name := range a.send {
		for _, v := range r.Header.Values(name) {
			req.Header.Add(name, v)
		}
	}
	req.Header.Set("X-Forwarded-Method", r.Method)
	req.Header.Set("X-Forwarded-Uri", r.URL.RequestURI())
	req.Header.Set("X-Forwarded-Host", r.Host)
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	req.Header.Set("X-Refract-Route", route)
	req.Header.Set("X-Refract-Method", method)
	resp, err := a.o.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ext_authz: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("ext_authz: reading the answer: %w", err)
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		d := &decision{allow: true}
		for _, name := range a.o.UpstreamHeaders {
			for _, v := range resp.Header.Values(name) {
				d.metadata = append(d.metadata, strings.ToLower(name), v)
			}
		}
		return d, nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		d := &decision{status: resp.StatusCode, code: denialCode(resp.StatusCode), body: body, header: http.Header{}}
		for _, name := range []string{"Content-Type", "Www-Authenticate", "Location"} {
			if vs := resp.Header.Values(name); len(vs) > 0 {
				d.header[name] = slices.Clone(vs)
			}
		}
		return d, nil
	}
	return nil, fmt.Errorf("ext_authz: the authorizer answered %s", resp.Status)
}

func (a *ExtAuthz) checkGRPC(ctx context.Context, r *http.Request, ip, route, method, upstream string) (*decision, error) {
	headers := map[string]string{}
	for _, name := range a.send {
		if vs := r.Header.Values(name); len(vs) > 0 {
			headers[strings.ToLower(name)] = strings.Join(vs, ",")
		}
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: r.Method, Path: r.URL.RequestURI(), Host: r.Host, Headers: headers,
		}},
		ContextExtensions: map[string]string{"route": route, "grpc_method": method, "upstream": upstream},
	}}
	if info := InfoFrom(r.Context()); info != nil {
		req.Attributes.Request.Http.Id = info.RequestID
	}
	if ip != "" {
		req.Attributes.Source = &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: ip}}}}
	}
	resp, err := a.o.GRPC.Check(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("ext_authz: %w", err)
	}
	if resp.GetStatus().GetCode() == int32(codes.OK) {
		d := &decision{allow: true}
		ok := resp.GetOkResponse()
		for _, h := range ok.GetHeaders() {
			d.metadata = append(d.metadata, strings.ToLower(h.GetHeader().GetKey()), h.GetHeader().GetValue())
		}
		d.remove = ok.GetHeadersToRemove()
		return d, nil
	}
	d := &decision{status: http.StatusForbidden, header: http.Header{}, message: resp.GetStatus().GetMessage(),
		code: codes.Code(resp.GetStatus().GetCode())}
	if den := resp.GetDeniedResponse(); den != nil {
		if c := int(den.GetStatus().GetCode()); c >= 400 && c <= 599 {
			d.status = c
		}
		for _, h := range den.GetHeaders() {
			d.header.Add(h.GetHeader().GetKey(), h.GetHeader().GetValue())
		}
		d.body = []byte(den.GetBody())
	}
	return d, nil
}
