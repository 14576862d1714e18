package aggregate

import (
	"strings"
	"testing"

	"github.com/refract-gateway/refract/router"
)

func TestNewPlanOrdersDependentCalls(t *testing.T) {
	tmpl, err := router.ParseTemplate("/v1/d/{shelf}")
	if err != nil {
		t.Fatal(err)
	}
	ref := func(call string) []Field {
		return []Field{{Path: []string{"x"}, Parts: []Part{{Source: FromCall, Name: call, Path: []string{"y"}}}}}
	}
	e := Endpoint{Name: "d", HTTPMethod: "GET", Template: tmpl, Calls: []Call{
		{Name: "c", Fields: ref("b")}, {Name: "b", Fields: ref("a")}, {Name: "a"},
	}}
	p, err := newPlan(e)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.order; len(got) != 3 || got[0] != 2 || got[1] != 1 || got[2] != 0 {
		t.Fatalf("order %v", got)
	}
	if len(p.deps[0]) != 1 || p.deps[0][0] != 1 || len(p.deps[2]) != 0 {
		t.Fatalf("deps %v", p.deps)
	}
	if p.vars[0] != "shelf" || p.route != "GET /v1/d/{shelf}" || p.MaxResponseBytes != 4<<20 {
		t.Fatalf("plan %+v", p)
	}
	e.Calls[2].Fields = ref("c")
	if _, err := newPlan(e); err == nil || !strings.Contains(err.Error(), "depends on itself") {
		t.Fatalf("cycle: %v", err)
	}
	e.Calls[2].Fields = ref("nope")
	if _, err := newPlan(e); err == nil || !strings.Contains(err.Error(), "reads call nope") {
		t.Fatalf("unknown call: %v", err)
	}
	e.Calls = make([]Call, MaxCalls+1)
	if _, err := newPlan(e); err == nil || !strings.Contains(err.Error(), "1 to 16 calls") {
		t.Fatalf("too many calls: %v", err)
	}
}
