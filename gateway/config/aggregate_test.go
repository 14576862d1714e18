package config

import (
	"strings"
	"testing"
)

// Config-only problems of aggregates are load errors with line and key.
func TestAggregateProblemsAtLoad(t *testing.T) {
	_, err := Parse([]byte(`upstreams: [{name: library, static: ["127.0.0.1:1"]}]
aggregates:
  - name: dash
    route: GET /v1/dash/{shelf}
    policies: {timeout: 1s, auth: [jwt]}
    calls:
      - name: shelf
        method: library.v1.LibraryService.GetShelf
        request: {name: "{calls.books.parent}"}
      - name: books
        method: library.v1.LibraryService.ListBooks
        request: {parent: "{calls.shelf.name}", page_size: "{query.limit"}
  - name: dash
    route: GET /v1/dash/{shelf}
    calls: [{name: a, method: a.B.C}]
`))
	if err == nil {
		t.Fatal("loaded")
	}
	for _, want := range []string{
		"line 6: aggregates[0].calls: calls depend on each other in a cycle: shelf → books → shelf",
		`line 12: aggregates[0].calls[1].request.page_size: "{query.limit" has a { without }`,
		"line 5: aggregates[0].policies: timeout, breaker, retry, fallback and split are not aggregate policies",
		"line 5: aggregates[0].policies.auth: jwt needs the jwt key",
		`line 13: aggregates[1].name: "dash" is used twice`,
		`line 14: aggregates[1].route: "GET /v1/dash/{shelf}" is served by an aggregate above`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
}
