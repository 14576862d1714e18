package router

import (
	"strings"
	"testing"
)

func TestCheckPath(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"/v1/shelves/1", ""},
		{"/echo.v1.EchoService/Echo", ""},
		{"/v1/caf%C3%A9/..x/x..", ""},
		{"/v1/a%2Fb/%3B", ""}, // separators depend on the route: CheckEscapes
		{"/", ""},
		{"", "request path: must start with '/'"},
		{"v1", "request path: must start with '/'"},
		{"/v1/../x", `request path segment 2 "..": dot segments`},
		{"/v1/.", `request path segment 2 ".": dot segments`},
		{"/v1/%2e%2E/x", `segment 2 "%2e%2E": dot segments`},
		{"/v1/.%2e", `segment 2 ".%2e": dot segments`},
		{"/v1/%2e", `segment 2 "%2e": dot segments`},
		{"/v1/..;jsessionid=1/x", `segment 2 "..;jsessionid=1": dot segments`},
		{"/v1/...", ""}, // three dots name a resource
		{"/v1/a%00", `segment 2 "a%00": escaped control character %00`},
		{"/v1/a%7f", `escaped control character %7F`},
		{"/v1/a\x00", `segment 2 "a\x00": control character 0x00`},
		{"/v1/a\\b", `segment 2 "a\\b": a backslash is not allowed`},
		{"/v1/%zz", `segment 2 "%zz": '%' must start an escape`},
		{"/v1/a%", `'%' must start an escape`},
		{"/v1/%FF", `segment 2 "%FF": the decoded segment is not valid UTF-8`},
		{"/v1/\xff", `the decoded segment is not valid UTF-8`},
		{"/v1/%C3%28", `not valid UTF-8`},
	} {
		err := CheckPath(tc.path)
		if tc.want == "" {
			if err != nil {
				t.Errorf("CheckPath(%q) = %v", tc.path, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckPath(%q) = %v, want %q", tc.path, err, tc.want)
		}
	}
}

func TestCheckEscapes(t *testing.T) {
	tb := mustTable(t, "GET /v1/{name=shelves/*}", "GET /files/{path=**}", "GET /v1/a%2Fb", "GET /v1/{name=shelves/*}:get")
	for _, tc := range []struct{ path, want string }{
		{"/v1/shelves/1", ""},
		{"/v1/shelves/caf%C3%A9", ""},
		{"/files/a%2Fb/c%5Cd;e%3B", ""},
		{"/v1/a%2Fb", ""},
		{"/v1/shelves/a%2F..%2Fb", `request path segment 3 "a%2F..%2Fb": an encoded '/' (%2F) is only allowed in a '**' part of a route; this route (/v1/{name=shelves/*}) takes none here`},
		{"/v1/shelves/a%2f", `an encoded '/' (%2f)`},
		{"/v1/shelves/a%5c", `an encoded '\' (%5c)`},
		{"/v1/shelves/a%3B", `an encoded ';' (%3B)`},
		{"/v1/shelves/a%2F:get", `an encoded '/' (%2F)`},
	} {
		m, st := tb.Match("GET", tc.path)
		if st != Found {
			t.Fatalf("%s: %v", tc.path, st)
		}
		err := m.Template.CheckEscapes(tc.path)
		if tc.want == "" {
			if err != nil {
				t.Errorf("CheckEscapes(%q) = %v", tc.path, err)
			}
			continue
		}
		if err == nil || err.Error() != tc.want && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckEscapes(%q) = %v, want %q", tc.path, err, tc.want)
		}
	}
}

func BenchmarkCheckPath(b *testing.B) {
	for _, p := range []string{"/v1/widgets57/w-123/parts/p-9", "/echo.v1.EchoService/Echo", "/v1/widgets57/w%2F1/parts/caf%C3%A9"} {
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := CheckPath(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
