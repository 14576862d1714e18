// Package policytest starts the real servers policy tests need (a
// redis-server on a free loopback port) and makes JWT keys and JWKS
// documents. For tests only; production code never imports it.
package policytest
