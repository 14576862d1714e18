// Package aggregates is the YAML schema of aggregation endpoints: plain
// data and the checks that need no descriptors (names, the route, the
// references of request values and picks, the order of dependent calls,
// cycles). Whether the called methods and the fields exist is checked
// against the live descriptors by the runtime, at every route build; this
// package constructs nothing.
package aggregates
