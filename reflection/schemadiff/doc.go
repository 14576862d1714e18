// Package schemadiff compares two versions of an API's descriptors and
// classifies every difference as breaking or not for clients of an
// HTTP+JSON gateway, with rules close to buf's breaking-change categories
// (WIRE_JSON, plus the removals buf's PACKAGE category forbids): a removed
// service, method, message, field, enum or enum value, a field whose type,
// number, name, cardinality or oneof changed, a method whose request,
// response or streaming changed, and a removed or changed google.api.http
// binding all break clients; additions do not. It owns no state and does
// no I/O: callers hand it two descriptor sets and read back a sorted list
// of changes. It does not know where descriptors come from (reflection,
// files) nor what a gateway does with the verdict.
package schemadiff
