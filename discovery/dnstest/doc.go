// Package dnstest runs a real DNS server for tests (github.com/miekg/dns)
// on a free 127.0.0.1 UDP port: it answers A, AAAA and SRV questions from
// records the test sets and changes while it runs, can answer SERVFAIL,
// and can be stopped and restarted on the same address, as an outage and
// a recovery would.
package dnstest
