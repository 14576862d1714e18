package compat

import "fmt"

// Mode is the wire dialect of an upstream's routes.
type Mode uint8

const (
	// Refract is refract's own wire choices; the default (the zero value).
	Refract Mode = iota
	// GRPCGateway answers the way grpc-gateway v2's runtime does by
	// default, on the choices this package owns.
	GRPCGateway
)

// Names of the modes, as configuration spells them.
const (
	RefractName     = "refract"
	GRPCGatewayName = "grpc-gateway"
)

// ParseMode reads a mode as configuration spells it: "" or "refract",
// or "grpc-gateway".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", RefractName:
		return Refract, nil
	case GRPCGatewayName:
		return GRPCGateway, nil
	}
	return Refract, fmt.Errorf("compat: %q is not %s or %s", s, RefractName, GRPCGatewayName)
}

// String is the mode's configuration name.
func (m Mode) String() string {
	if m == GRPCGateway {
		return GRPCGatewayName
	}
	return RefractName
}
