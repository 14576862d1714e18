// Package observe is the contract between the engine and whoever
// measures it: the hooks the request path calls (Observer, RouteObserver),
// the route label of unmatched requests and every rejection reason. It
// holds no metrics library; gateway/telemetry implements it with
// Prometheus.
package observe
