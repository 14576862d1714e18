// Package etcdtest runs a real etcd server for tests, in process: etcd's
// own server (go.etcd.io/etcd/server/v3/embed) on free 127.0.0.1 ports and
// a data directory of the test's, with optional TLS (a CA and certificates
// made for the test) and authentication (a root user), a client for the
// test's own writes, and Stop and Restart on the same address and data,
// as an outage and a recovery would.
package etcdtest
