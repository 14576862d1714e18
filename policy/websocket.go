package policy

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// WebSocketUpgrade reports a WebSocket opening handshake (RFC 6455 §4.1).
func WebSocketUpgrade(r *http.Request) bool {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// CheckWebSocketHandshake returns why a WebSocket handshake is refused,
// or "": not a GET, a version other than 13, no key, or an Origin that is
// neither r's host nor matched by one of origins (path.Match patterns,
// case-insensitive). Origins are checked here rather than by a WebSocket
// library so that the refusal is a google.rpc.Status like every other:
// pages of other sites may open WebSockets only when
// streams.websocket_origins names them, because browsers do not apply
// CORS to WebSockets.
func CheckWebSocketHandshake(r *http.Request, origins []string) string {
	if r.Method != http.MethodGet {
		return fmt.Sprintf("a WebSocket handshake must be a GET, not %s", r.Method)
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		return fmt.Sprintf("WebSocket version %q is not supported; send Sec-WebSocket-Version: 13", v)
	}
	if r.Header.Get("Sec-WebSocket-Key") == "" {
		return "the WebSocket handshake has no Sec-WebSocket-Key"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return "" // not a browser: nothing to protect against
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("Origin %q is not a URL", origin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return ""
	}
	for _, p := range origins {
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(u.Host)); ok {
			return ""
		}
	}
	return fmt.Sprintf("pages from %s may not open WebSockets here; allow the origin in streams.websocket_origins", u.Host)
}
