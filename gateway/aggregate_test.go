package gateway_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// aggregateConfig serves the library and echo backends and a dashboard
// aggregate of three calls across both: the books call reads the shelf
// call's response, the echo call runs beside them.
func aggregateConfig(t *testing.T, onError, extra string) string {
	lib, echo := startLibrary(t), startEcho(t, "127.0.0.1:0")
	return fmt.Sprintf(`
openapi: {enabled: true}
consumers:
  - name: reader
    keys: [{value: reader-key}]
upstreams:
  - name: library
    static: [%q]
    routes:
      - method: library.v1.LibraryService.ListBooks
        policies: {auth: [api_key]}
  - name: echo
    static: [%q]
aggregates:
  - name: dashboard
    route: GET /v1/dashboard/{shelf}
    on_error: %s
    calls:
      - name: shelf
        method: library.v1.LibraryService.GetShelf
        timeout: 5s
        request: {name: "shelves/{path.shelf}"}
      - name: books
        method: library.v1.LibraryService.ListBooks
        request: {parent: "{calls.shelf.name}", page_size: "{query.limit}"}
      - name: greeting
        method: echo.v1.EchoService.Echo
        request: {message: "hello {path.shelf}", repeat: "2"}
%s`, lib.Addr, echo.Addr, onError, extra)
}

func TestAggregateThreeCallsAcrossTwoUpstreams(t *testing.T) {
	h := startGateway(t, aggregateConfig(t, "fail", ""))
	r := h.do(t, "GET", "/v1/dashboard/1?limit=1", "", "X-Api-Key", "reader-key").expect(t, 200)
	var got struct {
		Shelf struct {
			Name, Theme string
		}
		Books struct {
			Books         []struct{ Name, Title string }
			NextPageToken string
		}
		Greeting struct{ Message string }
		Errors   []any
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if got.Shelf.Name != "shelves/1" || got.Shelf.Theme != "Fiction" {
		t.Errorf("shelf = %+v; body %s", got.Shelf, r.body)
	}
	// parent came from the shelf call's response, page_size from the query.
	if len(got.Books.Books) != 1 || got.Books.Books[0].Name != "shelves/1/books/1" || got.Books.NextPageToken == "" {
		t.Errorf("books = %+v; body %s", got.Books, r.body)
	}
	if got.Greeting.Message != "hello 1 hello 1" {
		t.Errorf("greeting = %q", got.Greeting.Message)
	}
	if got.Errors != nil {
		t.Errorf("errors member on success: %s", r.body)
	}
}

func TestAggregateFailsWithFirstError(t *testing.T) {
	h := startGateway(t, aggregateConfig(t, "fail", ""))
	r := h.do(t, "GET", "/v1/dashboard/9", "", "X-Api-Key", "reader-key").expect(t, 404)
	var st struct {
		Code    int
		Message string
	}
	if err := json.Unmarshal(r.body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Code != 5 || !strings.Contains(st.Message, "aggregate dashboard: call shelf (library.v1.LibraryService.GetShelf): ") {
		t.Fatalf("status %+v", st)
	}
}

func TestAggregatePartialAnswersWhatSucceeded(t *testing.T) {
	h := startGateway(t, aggregateConfig(t, "partial", ""))
	r := h.do(t, "GET", "/v1/dashboard/9", "", "X-Api-Key", "reader-key").expect(t, 200)
	var got map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["shelf"]; ok {
		t.Errorf("a failed call has a member: %s", r.body)
	}
	jsonEq(t, got["greeting"], `{"message":"hello 9 hello 9","index":0}`)
	var errs []struct {
		Call, Method, Status, Message string
		Code                          int
	}
	if err := json.Unmarshal(got["errors"], &errs); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if len(errs) != 2 || errs[0].Call != "shelf" || errs[0].Code != 5 || errs[0].Status != "NOT_FOUND" ||
		errs[1].Call != "books" || errs[1].Code != 9 || !strings.Contains(errs[1].Message, "call shelf") {
		t.Fatalf("errors %+v", errs)
	}
}

// The called method's own route policy (ListBooks wants an API key)
// applies to the aggregate's call, and shows in its errors.
func TestAggregateCallRunsItsMethodPolicies(t *testing.T) {
	h := startGateway(t, aggregateConfig(t, "partial", ""))
	r := h.do(t, "GET", "/v1/dashboard/1", "").expect(t, 200)
	var got struct {
		Shelf  struct{ Name string }
		Books  json.RawMessage
		Errors []struct {
			Call    string
			Code    int
			Message string
		}
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Shelf.Name != "shelves/1" || got.Books != nil {
		t.Errorf("body %s", r.body)
	}
	if len(got.Errors) != 1 || got.Errors[0].Call != "books" || got.Errors[0].Code != 16 {
		t.Fatalf("errors %+v; body %s", got.Errors, r.body)
	}
}

// The aggregate route's own policies apply before any call: here a rate
// limit of one request.
func TestAggregateRoutePolicies(t *testing.T) {
	h := startGateway(t, aggregateConfig(t, "fail", `    policies:
      rate_limits: [{key: ip, rate: 1, per: 1h}]
`))
	h.do(t, "GET", "/v1/dashboard/1", "", "X-Api-Key", "reader-key").expect(t, 200)
	r := h.do(t, "GET", "/v1/dashboard/1", "", "X-Api-Key", "reader-key").expect(t, 429)
	if code := field(t, r.body, "code"); code != float64(8) {
		t.Fatalf("code %v: %s", code, r.body)
	}
	// The admin API lists the served aggregate with its calls and its
	// route's own policies.
	var routes struct {
		Routes []struct {
			HTTPMethod string `json:"http_method"`
			Path       string
			Upstream   string
			GRPCMethod string `json:"grpc_method"`
			Origin     string
			Policies   []string
		}
	}
	adminJSON(t, h.admin+"/admin/routes", &routes)
	for _, rt := range routes.Routes {
		if rt.Path != "/v1/dashboard/{shelf}" {
			continue
		}
		if rt.HTTPMethod != "GET" || rt.Upstream != "aggregate dashboard" || rt.Origin != "aggregate" ||
			rt.GRPCMethod != "library.v1.LibraryService.GetShelf, library.v1.LibraryService.ListBooks, echo.v1.EchoService.Echo" ||
			!slices.Contains(rt.Policies, "rate_limit") {
			t.Fatalf("the aggregate's route: %+v", rt)
		}
		return
	}
	t.Fatalf("/admin/routes does not list the aggregate: %+v", routes.Routes)
}

func TestAggregatePick(t *testing.T) {
	h := startGateway(t, aggregateConfig(t, "fail", `    pick:
      theme: shelf.theme
      books: books.books
      said: greeting.message
`))
	r := h.do(t, "GET", "/v1/dashboard/2", "", "X-Api-Key", "reader-key").expect(t, 200)
	var got struct {
		Theme string
		Books []struct{ Title string }
		Said  string
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Theme != "History" || len(got.Books) != 1 || got.Books[0].Title != "SPQR: A History of Ancient Rome" || got.Said != "hello 2 hello 2" {
		t.Fatalf("body %s", r.body)
	}
	if m := map[string]any{}; json.Unmarshal(r.body, &m) == nil && len(m) != 3 {
		t.Fatalf("members beyond the picks: %s", r.body)
	}
}

// An aggregate naming a field the descriptors do not have is not served,
// and the refusal names the aggregate, the call and the field.
func TestAggregateMissingFieldRefused(t *testing.T) {
	cfg := strings.Replace(aggregateConfig(t, "fail", ""), `{parent: "{calls.shelf.name}"`, `{parent: "{calls.shelf.owner}"`, 1)
	h := startGateway(t, cfg)
	h.expectNoRoute(t, "GET", "/v1/dashboard/1", "")
	var reason string
	for _, r := range h.gw.RefusedRoutes() {
		if r.Path == "/v1/dashboard/{shelf}" {
			reason = r.Reason
		}
	}
	want := "aggregate dashboard is not served: call books: request field parent: {calls.shelf.owner}: library.v1.Shelf: field owner does not exist in library.v1.Shelf"
	if reason != want {
		t.Fatalf("reason %q\nwant   %q", reason, want)
	}
	var routes struct {
		Refused []struct{ Upstream, Path, Reason string }
	}
	adminJSON(t, h.admin+"/admin/routes", &routes)
	if n := len(routes.Refused); n != 1 || routes.Refused[0].Upstream != "aggregate dashboard" || routes.Refused[0].Reason != want {
		t.Fatalf("admin API refused routes: %+v", routes.Refused)
	}
	// A method no upstream has.
	cfg = strings.Replace(aggregateConfig(t, "fail", ""), "echo.v1.EchoService.Echo", "echo.v1.EchoService.Shout", 1)
	h = startGateway(t, cfg)
	for _, r := range h.gw.RefusedRoutes() {
		if r.Path == "/v1/dashboard/{shelf}" {
			reason = r.Reason
		}
	}
	if !strings.Contains(reason, "call greeting: method echo.v1.EchoService.Shout is not in the descriptors of any upstream") {
		t.Fatalf("reason %q", reason)
	}
	// A method the config keeps unpublished, and one whose routes a
	// transform guards (an in-process call would bypass the transform),
	// are refused at the route build, not left to fail at call time.
	for name, publish := range map[string]string{
		"hidden":      `hide: ["*.Echo"]`,
		"transformed": `routes: [{method: echo.v1.EchoService.Echo, policies: {transform: {request: {set: [{field: message, from: "const:hi"}]}}}}]`,
	} {
		cfg := strings.Replace(aggregateConfig(t, "fail", ""), "  - name: echo\n", "  - name: echo\n    "+publish+"\n", 1)
		h = startGateway(t, cfg)
		reason = ""
		for _, r := range h.gw.RefusedRoutes() {
			if r.Path == "/v1/dashboard/{shelf}" {
				reason = r.Reason
			}
		}
		if want := "call greeting: method echo.v1.EchoService.Echo is not published"; !strings.Contains(reason, want) {
			t.Fatalf("%s: reason %q, want it to contain %q", name, reason, want)
		}
	}
}

func TestAggregateOpenAPI(t *testing.T) {
	h := startGateway(t, aggregateConfig(t, "partial", ""))
	r := h.do(t, "GET", "/openapi.json", "").expect(t, 200)
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct{ Name, In string }
			Responses   map[string]struct {
				Content map[string]struct {
					Schema struct {
						Properties map[string]struct {
							Ref string `json:"$ref"`
						}
					}
				}
			}
		}
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	op, ok := doc.Paths["/v1/dashboard/{shelf}"]["get"]
	if !ok || op.OperationID != "aggregate.dashboard" {
		t.Fatalf("no aggregate operation: %v", doc.Paths["/v1/dashboard/{shelf}"])
	}
	if len(op.Parameters) != 2 || op.Parameters[0].Name != "shelf" || op.Parameters[1].Name != "limit" || op.Parameters[1].In != "query" {
		t.Errorf("parameters %+v", op.Parameters)
	}
	props := op.Responses["200"].Content["application/json"].Schema.Properties
	if props["shelf"].Ref != "#/components/schemas/library.v1.Shelf" || props["greeting"].Ref != "#/components/schemas/echo.v1.EchoResponse" {
		t.Errorf("response members %+v", props)
	}
	if _, ok := props["errors"]; !ok {
		t.Errorf("a partial aggregate's answer has no errors member: %+v", props)
	}
}

// A POST aggregate reads the JSON body and the consumer its own auth
// policy established.
func TestAggregateBodyAndConsumer(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	h := startGateway(t, fmt.Sprintf(`
consumers:
  - name: reader
    keys: [{value: reader-key}]
upstreams:
  - name: echo
    static: [%q]
aggregates:
  - name: echoes
    route: POST /v1/echoes
    policies: {auth: [api_key], max_body_bytes: 64}
    calls:
      - name: said
        method: echo.v1.EchoService.Echo
        request: {message: "{body.text} from {consumer}", repeat: "{body.times}"}
      - name: typed
        method: echo.v1.EchoService.Echo
        request: {message: "{header.X-Note}", repeat: "{body.times}"}
`, echo.Addr))
	h.do(t, "POST", "/v1/echoes", `{"text":"hi","times":2}`).expect(t, 401)
	r := h.do(t, "POST", "/v1/echoes", `{"text":"hi","times":2}`, "X-Api-Key", "reader-key", "X-Note", "n").expect(t, 200)
	jsonEq(t, r.body, `{"said":{"message":"hi from reader hi from reader","index":0},"typed":{"message":"n n","index":0}}`)
	r = h.do(t, "POST", "/v1/echoes", `{"text":"hi","times":"many"}`, "X-Api-Key", "reader-key", "X-Note", "n").expect(t, 400)
	if msg, _ := field(t, r.body, "message").(string); !strings.Contains(msg, "request field repeat from the body's times") {
		t.Fatalf("message %q", msg)
	}
	// The body's budget and shape.
	r = h.do(t, "POST", "/v1/echoes", `{"text":"`+strings.Repeat("x", 64)+`"}`, "X-Api-Key", "reader-key").expect(t, 413)
	jsonEq(t, r.body, `{"code":3,"message":"request body exceeds the limit of 64 bytes","details":[]}`)
	r = h.do(t, "POST", "/v1/echoes", `[1,2]`, "X-Api-Key", "reader-key").expect(t, 400)
	if msg, _ := field(t, r.body, "message").(string); !strings.HasPrefix(msg, "the request body must be a JSON object") {
		t.Fatalf("message %q", msg)
	}
}

// A claim of the verified token builds a call's request, overriding
// nothing the client could set; the called method's own JWT auth sees the
// same bearer token.
func TestAggregateClaims(t *testing.T) {
	lib := startLibrary(t)
	h := startGateway(t, fmt.Sprintf(`
jwt: {algorithms: [HS256], hmac_secret: {value: %s}, issuer: "https://id.test", audiences: [refract]}
upstreams:
  - name: library
    static: [%q]
    policies: {auth: [jwt]}
aggregates:
  - name: mine
    route: GET /v1/mine
    policies: {auth: [jwt]}
    calls:
      - name: shelf
        method: library.v1.LibraryService.GetShelf
        request: {name: "shelves/{claims.sub}"}
`, testHMAC, lib.Addr))
	h.do(t, "GET", "/v1/mine", "").expect(t, 401)
	r := h.do(t, "GET", "/v1/mine?name=shelves/1", "", "Authorization", hsToken(t, "2")).expect(t, 200)
	if name := field(t, r.body, "shelf").(map[string]any)["name"]; name != "shelves/2" {
		t.Fatalf("body %s", r.body)
	}
}
