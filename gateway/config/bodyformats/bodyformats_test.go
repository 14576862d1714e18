package bodyformats

import (
	"strings"
	"testing"
)

func TestOptions(t *testing.T) {
	if o := (&Formats{Form: true}).Options(); o.CSRF.Off || !o.Form || o.XML {
		t.Fatalf("defaults: %+v", o)
	}
	off := false
	o := (&Formats{XML: true, MaxFields: 3, CSRF: CSRF{Enabled: &off, Header: "X-Csrf"}}).Options()
	if !o.XML || o.MaxFields != 3 || !o.CSRF.Off || o.CSRF.Header != "X-Csrf" {
		t.Fatalf("%+v", o)
	}
}

func TestCheck(t *testing.T) {
	var got []string
	bad := func(key string, err error) { got = append(got, key+": "+err.Error()) }
	(&Formats{MaxPartHeaderBytes: -1, CSRF: CSRF{Header: "X:Y", TrustedOrigins: []string{"https://ok.example", "ftp//x"}}}).Check("policies", bad)
	want := []string{
		"policies.body_formats.max_part_header_bytes: must be positive (0: the default)",
		`policies.body_formats.csrf.header: "X:Y" is not a header name`,
		"policies.body_formats.csrf.trusted_origins[1]: ",
	}
	if len(got) != len(want) {
		t.Fatalf("%q", got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("%q, want %q…", got[i], want[i])
		}
	}
	got = nil
	(&Formats{Form: true}).Check("policies", bad)
	if len(got) != 0 {
		t.Fatalf("%q", got)
	}
}
