package gateway

import (
	"github.com/refract-gateway/refract/gateway/config"
)

// checkPolicies checks the policy keys by building the runtime pieces
// (without starting anything), so that what passes here also compiles.
func checkPolicies(c *config.Config) error {
	p, err := buildPolicies(c, nopLogger())
	if err != nil {
		return err
	}
	p.close() // only built to be checked
	return nil
}
