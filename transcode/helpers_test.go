package transcode

import (
	"testing"

	"github.com/refract-gateway/refract/examples/library/librarypb"
	"github.com/refract-gateway/refract/router"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func libraryMethod(t testing.TB, name string) protoreflect.MethodDescriptor {
	t.Helper()
	sd := librarypb.File_library_v1_library_proto.Services().ByName("LibraryService")
	md := sd.Methods().ByName(protoreflect.Name(name))
	if md == nil {
		t.Fatalf("no method %s", name)
	}
	return md
}

// bindingFor compiles a method's annotation and returns the binding whose
// template is tmpl.
func bindingFor(t testing.TB, method, tmpl string, opts Options) *Binding {
	t.Helper()
	md := libraryMethod(t, method)
	bs, err := Compile(md, Rules(md), opts)
	if err != nil {
		t.Fatalf("Compile(%s): %v", method, err)
	}
	for _, b := range bs {
		if b.Template.String() == tmpl {
			return b
		}
	}
	t.Fatalf("%s has no binding %s", method, tmpl)
	return nil
}

// vars matches path against the binding's template through a real router
// table, as the gateway does.
func vars(t testing.TB, b *Binding, path string) []string {
	t.Helper()
	tbl, err := router.NewTable([]router.Entry[*Binding]{{Method: b.HTTPMethod, Template: b.Template, Value: b}})
	if err != nil {
		t.Fatal(err)
	}
	m, st := tbl.Match(b.HTTPMethod, path)
	if st != router.Found {
		t.Fatalf("%s does not match %s: %v", path, b.Template, st)
	}
	return m.Vars
}

// as converts a dynamic message into the generated type for comparison.
func as[T proto.Message](t testing.TB, m proto.Message, into T) T {
	t.Helper()
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(raw, into); err != nil {
		t.Fatal(err)
	}
	return into
}
