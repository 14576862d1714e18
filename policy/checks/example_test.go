package checks_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/refract-gateway/refract/policy"
	"github.com/refract-gateway/refract/policy/checks"
)

// Two checks asked in parallel before a route's handler: a risk service
// that allows and vouches for a score, and a device service that denies.
func ExamplePolicy() {
	risk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Risk-Score", "12")
		w.WriteHeader(http.StatusNoContent)
	}))
	defer risk.Close()
	device := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	defer device.Close()

	build := func(name, url string, vouches ...string) *checks.Check {
		az, err := policy.NewExtAuthz(policy.ExtAuthzOptions{HTTPURL: url, UpstreamHeaders: vouches, Timeout: time.Second})
		if err != nil {
			panic(err)
		}
		c, err := checks.New(checks.Options{Name: name, Authorizer: az, Vouches: vouches})
		if err != nil {
			panic(err)
		}
		return c
	}
	var set policy.Set
	set.Put(policy.StageChecks, checks.Policy([]*checks.Check{build("risk", risk.URL, "X-Risk-Score"), build("device", device.URL)},
		"GET /v1/orders", "orders.v1.Orders.List", "orders"))
	h := policy.State()(policy.Compile(set, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "served")
	})))

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/orders", nil))
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 403 {"code":7,"message":"the request was denied by the device check","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"CHECK_DENIED","domain":"refract","metadata":{"check":"device"}}]}
}
