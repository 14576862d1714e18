package admin

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
)

// Role is what an admin API caller may do; each role may do what the
// weaker ones may.
type Role int

const (
	// RoleViewer reads: every GET.
	RoleViewer Role = iota + 1
	// RoleOperator also runs the gateway: reload, refresh descriptors,
	// approve schema changes, drain.
	RoleOperator
	// RoleAdmin also changes the config: PUT, PATCH, rollback, gray
	// releases.
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole reads "viewer", "operator" or "admin".
func ParseRole(s string) (Role, error) {
	for r := RoleViewer; r <= RoleAdmin; r++ {
		if r.String() == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("admin: %q is not a role (viewer, operator or admin)", s)
}

// Token is one accepted bearer token: the SHA-256 digest of its secret,
// the name the audit log gives its bearer, and its role.
type Token struct {
	Digest [sha256.Size]byte
	Name   string
	Role   Role
}

// Identity is who made an admin request: the JSON of GET /admin/whoami.
type Identity struct {
	Role    Role   `json:"-"`
	Subject string `json:"subject"` // a token's name, a certificate's CN, or "local"
	Auth    string `json:"auth"`    // "token", "cert" or "none"
	From    string `json:"-"`       // the client's address
}

// MarshalJSON adds the role by name.
func (id Identity) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"role":%q,"subject":%q,"auth":%q}`, id.Role, id.Subject, id.Auth), nil
}

type identityKey struct{}

func withIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityOf is who made r, as the admin API's guard found; the zero
// Identity outside it.
func IdentityOf(r *http.Request) Identity {
	id, _ := r.Context().Value(identityKey{}).(Identity)
	return id
}

// operatorPaths are the state-changing requests an operator may make:
// they run the gateway without changing its config.
var operatorPaths = []string{"/admin/reload", "/admin/descriptors/", "/admin/drain"}

// requiredRole is the role r needs: viewer to read, operator for the
// operatorPaths, admin for every other change.
func requiredRole(r *http.Request) Role {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return RoleViewer
	}
	for _, p := range operatorPaths {
		if r.URL.Path == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(r.URL.Path, p)) {
			return RoleOperator
		}
	}
	return RoleAdmin
}
