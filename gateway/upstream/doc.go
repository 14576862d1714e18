// Package upstream owns an upstream's connections: dialing (transport
// credentials, the balancer and health-check service config, grpc-go's own
// retries off), feeding what discovery reports into the connection's
// resolver, the named traffic subsets splits send calls to, and, while an
// upstream's endpoints serve different schemas (a rolling deploy), the
// schema groups reflected one by one and the connections over the
// endpoints of some schemas only. It does not own HTTP, routes, header
// rules or JSON options (the gateway compiles those from its config), nor
// the descriptor cache, which its schema tracking is handed explicitly.
package upstream
