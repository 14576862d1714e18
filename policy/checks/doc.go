// Package checks owns the named pre-call checks: external authorizers and
// risk services that a route asks in parallel, after the cheap local
// stages, before its upstream call. It holds the combination rule (all
// must allow; the first refusal answers and cancels the rest), each
// check's timeout and failure mode, the merge of the metadata the checks
// vouch for, and the metrics hooks a check reports to. Each check is a
// policy.ExtAuthz (HTTP forward-auth or envoy's gRPC Authorization
// service); this package does not speak to a service itself, nor does it
// know the config schema.
package checks
