// Package jwt owns verifying bearer JWTs: the algorithms a token may use
// are fixed by config (a token's own alg header never widens them), keys
// come from an HMAC secret or a JWKS (a file, or a URL fetched and
// refreshed in the background, early on an unknown kid, keeping the last
// good set), exp, nbf and iat are checked with a leeway, iss and aud when
// required, and the claims chosen for forwarding come out as gRPC metadata
// pairs beside the subject, scopes and claims a Verifier hands its caller.
// It does not read HTTP requests or write responses: the authenticate
// stage in policy finds the bearer token, calls Verify and answers the
// client.
package jwt
