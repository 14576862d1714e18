package router_test

import (
	"fmt"

	"github.com/refract-gateway/refract/router"
)

func ExampleNewTable() {
	// Routes usually come from google.api.http annotations found by reflection.
	var entries []router.Entry[string]
	for _, r := range []struct{ method, path, rpc string }{
		{"GET", "/v1/shelves", "ListShelves"},
		{"GET", "/v1/{name=shelves/*}", "GetShelf"},
		{"POST", "/v1/{name=shelves/*}:merge", "MergeShelves"},
		{"GET", "/v1/{parent=shelves/*}/books/{book_id}", "GetBook"},
	} {
		tmpl, err := router.ParseTemplate(r.path)
		if err != nil {
			fmt.Println(err)
			return
		}
		entries = append(entries, router.Entry[string]{Method: r.method, Template: tmpl, Name: r.rpc, Value: r.rpc})
	}
	table, err := router.NewTable(entries)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The gateway holds the table in a Holder and swaps it on reload.
	var routes router.Holder[string]
	routes.Store(table)

	m, st := routes.Load().Match("GET", "/v1/shelves/s1/books/caf%C3%A9")
	fmt.Println(st, m.Value)
	for i, v := range m.Template.Variables() {
		fmt.Printf("  %s = %q\n", v.Path(), m.Vars[i])
	}

	_, st = routes.Load().Match("GET", "/v1/shelves/s1:merge")
	fmt.Println(st, routes.Load().Allowed("/v1/shelves/s1:merge"))

	_, st = routes.Load().Match("GET", "/v2/shelves")
	fmt.Println(st)

	_, err = router.ParseTemplate("/v1/{name=shelves/*")
	fmt.Println(err)
	// Output:
	// Found GetBook
	//   parent = "shelves/s1"
	//   book_id = "café"
	// MethodNotAllowed [POST]
	// NotFound
	// router: template "/v1/{name=shelves/*": offset 19: expected "/" or "}", found end of template
}
