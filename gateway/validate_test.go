package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/refract-gateway/refract/examples"
	"github.com/refract-gateway/refract/gateway"
)

const createAccount = "/accounts.v1.AccountsService/CreateAccount"

func TestEdgeValidationRejectsWithFieldViolations(t *testing.T) {
	b := startCounted(t, examples.StartAccounts)
	lib := startLibrary(t)
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - {name: accounts, static: [%q]}
  - {name: library, static: [%q]}
`, b.Addr, lib.Addr))

	r := h.do(t, "POST", "/v1/accounts", `{"email":"not-an-email","displayName":"","age":7,"tags":["a","a"]}`).expect(t, 400)
	jsonEq(t, r.body, `{"code":3,
	  "message":"the request is invalid: account.email: must be a valid email address (and 3 more; see details)",
	  "details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[
	    {"field":"account.email","description":"must be a valid email address","reason":"string.email"},
	    {"field":"account.display_name","description":"must be at least 1 characters","reason":"string.min_len"},
	    {"field":"account.age","description":"must be greater than or equal to 13 and less than or equal to 150","reason":"uint32.gte_lte"},
	    {"field":"account.tags","description":"repeated value must contain unique items","reason":"repeated.unique"}]}]}`)
	if n := b.n(createAccount); n != 0 {
		t.Fatalf("an invalid request reached the backend %d times", n)
	}
	r = h.do(t, "POST", "/v1/accounts", `{"email":"ada@example.com","displayName":"Ada","age":36,"tags":["math"]}`).expect(t, 200)
	jsonEq(t, r.body, `{"id":"accounts/1","email":"ada@example.com","displayName":"Ada","age":36,"tags":["math"]}`)
	if n := b.n(createAccount); n != 1 {
		t.Fatalf("backend called %d times, want 1", n)
	}

	// Only routes whose request carries rules are checked, and say so.
	resp, err := http.Get(h.admin + "/admin/routes")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var routes struct {
		Routes []gateway.RouteInfo `json:"routes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&routes); err != nil {
		t.Fatal(err)
	}
	checked := map[string]bool{}
	for _, rt := range routes.Routes {
		for _, p := range rt.Policies {
			if p == "validate" {
				checked[rt.GRPCMethod] = true
			}
		}
	}
	if len(checked) != 2 || !checked["accounts.v1.AccountsService.CreateAccount"] || !checked["accounts.v1.AccountsService.GetAccount"] {
		t.Fatalf("validated routes %v, want the two accounts methods (their requests carry rules), no library one", checked)
	}
	// Path variables are checked too.
	r = h.do(t, "GET", "/v1/accounts/abc", "").expect(t, 400)
	if !strings.Contains(string(r.body), `"field":"name"`) || b.n("/accounts.v1.AccountsService/GetAccount") != 0 {
		t.Fatalf("GET /v1/accounts/abc: %s", r.body)
	}
	h.do(t, "GET", "/v1/accounts/1", "").expect(t, 200)
}

func TestEdgeValidationCanBeSwitchedOff(t *testing.T) {
	b := startCounted(t, examples.StartAccounts)
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - {name: accounts, static: [%q], validate: false}
`, b.Addr))
	h.do(t, "POST", "/v1/accounts", `{"email":"nope","age":7}`).expect(t, 200)
	if n := b.n(createAccount); n != 1 {
		t.Fatalf("backend called %d times, want 1 (validation off)", n)
	}
}

// validate: false is per upstream: the same API behind another upstream
// (mounted under a prefix) keeps being checked.
func TestEdgeValidationOffForOneUpstreamOnly(t *testing.T) {
	off := startCounted(t, examples.StartAccounts)
	on := startCounted(t, examples.StartAccounts)
	h := startGateway(t, fmt.Sprintf(`
upstreams:
  - {name: legacy, static: [%q], validate: false, path_prefix: /legacy}
  - {name: accounts, static: [%q]}
`, off.Addr, on.Addr))
	bad := `{"email":"nope","displayName":"Ada","age":7}`
	h.do(t, "POST", "/legacy/v1/accounts", bad).expect(t, 200)
	r := h.do(t, "POST", "/v1/accounts", bad).expect(t, 400)
	if field(t, r.body, "code") != float64(3) {
		t.Fatalf("validated upstream: %s", r.body)
	}
	if off.n(createAccount) != 1 || on.n(createAccount) != 0 {
		t.Fatalf("legacy called %d times (want 1), accounts %d (want 0)", off.n(createAccount), on.n(createAccount))
	}
}
