package openapi

import (
	"slices"
	"testing"

	"github.com/refract-gateway/refract/router"
)

func TestOpenAPIPath(t *testing.T) {
	for _, c := range []struct {
		tmpl, path, shape string
		names             []string
	}{
		{"/v1/shelves", "/v1/shelves", "/v1/shelves", nil},
		{"/echo/{text}", "/echo/{text}", "/echo/*", []string{"text"}},
		{"/v1/{name=shelves/*}", "/v1/shelves/{shelf}", "/v1/shelves/*", []string{"shelf"}},
		{"/v1/{name=shelves/*/books/*}:move", "/v1/shelves/{shelf}/books/{book}:move", "/v1/shelves/*/books/*:move", []string{"shelf", "book"}},
		{"/v1/{book.name=shelves/*/books/*}", "/v1/shelves/{shelf}/books/{book}", "/v1/shelves/*/books/*", []string{"shelf", "book"}},
		{"/v1/{parent=categories/*}/items", "/v1/categories/{category}/items", "/v1/categories/*/items", []string{"category"}},
		{"/v1/{name=boxes/*/wolves/*/classes/*}", "/v1/boxes/{box}/wolves/{wolf}/classes/{class}", "/v1/boxes/*/wolves/*/classes/*", []string{"box", "wolf", "class"}},
		{"/files/{path=**}", "/files/{path}", "/files/*", []string{"path"}},
		{"/v1/{name=*/notes/*}", "/v1/{name_1}/notes/{note}", "/v1/*/notes/*", []string{"name_1", "note"}},
		{"/v1/{a=shelves/*}/{b=shelves/*}", "/v1/shelves/{shelf}/shelves/{shelf_2}", "/v1/shelves/*/shelves/*", []string{"shelf", "shelf_2"}},
		{"/v1/*/x/{id}", "/v1/{v1}/x/{id}", "/v1/*/x/*", []string{"v1", "id"}},
		{"/*", "/{segment_1}", "/*", []string{"segment_1"}},
		{"/v1/{x=my-things/*}", "/v1/my-things/{my_thing}", "/v1/my-things/*", []string{"my_thing"}},
	} {
		tmpl, err := router.ParseTemplate(c.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		p := openAPIPath(tmpl)
		var names []string
		for _, pp := range p.params {
			names = append(names, pp.name)
		}
		if p.path != c.path || p.shape != c.shape || !slices.Equal(names, c.names) {
			t.Errorf("%s: path %q shape %q names %q; want %q %q %q", c.tmpl, p.path, p.shape, names, c.path, c.shape, c.names)
		}
	}
}
