// Package accounts implements the example AccountsService (accounts.v1), whose request
// messages carry buf.validate rules for the gateway to check at the edge. The service
// itself does not check them: it trusts the gateway, so a test can tell from the
// backend's answer whether the gateway validated.
//
// It owns the service logic only; the parent examples package serves it with
// reflection, and the wire types live in accountspb (generated).
package accounts
