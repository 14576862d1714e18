package telemetry_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/refract-gateway/refract/gateway/telemetry"
)

// Callers past the cap count together as "other", so that JWT subjects
// (whatever valid tokens say) cannot grow the table; a caller already
// counted costs no allocation.
func TestConsumersCapAndOther(t *testing.T) {
	m, err := telemetry.NewMetrics(telemetry.MetricsOptions{MaxConsumers: 3})
	if err != nil {
		t.Fatal(err)
	}
	m.Consumed("mobile", "", 200, "")
	for i := range 5 {
		m.Consumed("", fmt.Sprintf("user-%d", i), 429, "rate_limit")
	}
	m.Consumed("", "", 401, "authenticate")
	m.Consumed("mobile", "", 403, "authorize")
	m.Consumed("mobile", "", 502, "")

	v := m.Consumers(context.Background(), nil)
	if v.Tracked != 3 || v.MaxTracked != 3 {
		t.Fatalf("tracked %d of %d", v.Tracked, v.MaxTracked)
	}
	by := map[string]telemetry.ConsumerStats{}
	for _, c := range v.Consumers {
		by[c.Kind+":"+c.Name] = c
	}
	if c := by["api_key:mobile"]; c.Requests != 3 || c.ClientErrors != 1 || c.ServerErrors != 1 || c.Denied != 1 || c.Denials["authorize"] != 1 {
		t.Errorf("mobile: %+v", c)
	}
	if c := by["jwt:user-0"]; c.Requests != 1 || c.Denials["rate_limit"] != 1 {
		t.Errorf("user-0: %+v", c)
	}
	if _, ok := by["jwt:user-2"]; ok {
		t.Errorf("user-2 is counted past the cap")
	}
	if c := by["other:other"]; c.Requests != 3 || c.Denials["rate_limit"] != 3 {
		t.Errorf("other: %+v", c)
	}
	if c := by["anonymous:"]; c.Requests != 1 || c.Denials["authenticate"] != 1 {
		t.Errorf("anonymous: %+v", c)
	}
	if v.Consumers[0].Name != "mobile" && v.Consumers[0].Name != "other" {
		t.Errorf("busiest first: %+v", v.Consumers[0])
	}
	if n := testing.AllocsPerRun(100, func() { m.Consumed("mobile", "", 200, "") }); n != 0 {
		t.Errorf("counting a known consumer allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { m.Consumed("", "user-99", 429, "rate_limit") }); n != 0 {
		t.Errorf("counting a caller past the cap allocates %v times", n)
	}
}
