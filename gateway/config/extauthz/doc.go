// Package extauthz is the part of the configuration schema that describes
// an external authorizer (the top-level ext_authz key, and each named
// pre-call check): plain data and the checks of its own keys. Which
// routes ask it is the config package's business.
package extauthz
