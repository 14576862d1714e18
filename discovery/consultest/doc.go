// Package consultest runs a real Consul agent for tests: `consul agent
// -dev` bound to 127.0.0.1 on free ports, with an API client and helpers to
// register, fail and deregister service instances, and to stop and restart
// the agent on the same address.
//
// The binary is $REFRACT_CONSUL, else `consul` on PATH, else the one
// .ci/consul.sh builds and caches. Without one a test is skipped with a
// loud message, except under CI=true, where it fails.
package consultest
