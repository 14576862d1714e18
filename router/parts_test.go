package router

import (
	"fmt"
	"testing"
)

func TestTemplateParts(t *testing.T) {
	for tmpl, want := range map[string]string{
		"/v1/shelves":                    "[{v1  -1} {shelves  -1}]",
		"/v1/{name=shelves/*/books/*}:x": "[{v1  -1} {shelves  0} { * 0} {books  0} { * 0}]",
		"/a/{x}/*/{y=**}":                "[{a  -1} { * 0} { * -1} { ** 1}]",
	} {
		tp, err := ParseTemplate(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(tp.Parts()); got != want {
			t.Errorf("%s: %s, want %s", tmpl, got, want)
		}
	}
	if (*Template)(nil).Parts() != nil {
		t.Errorf("nil template has parts")
	}
}
