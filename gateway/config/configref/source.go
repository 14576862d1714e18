package configref

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
)

// comments are the doc comments of struct fields, by type name and field
// name, read from Go source files.
type comments map[string]map[string]string

// readComments parses the given Go files (test files included when they
// are named) and returns the doc comment of every field of every struct
// type they declare. A field without a comment of its own that follows a
// commented field on the next line shares that comment, as Go's grouped
// fields do (MaxFiles, MaxBytes … under one comment).
func readComments(files []string) (comments, error) {
	out := comments{}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("configref: %w", err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			fields := map[string]string{}
			prevDoc, prevLine := "", -2
			for _, fld := range st.Fields.List {
				doc := strings.TrimSpace(fld.Doc.Text())
				if doc == "" {
					doc = strings.TrimSpace(fld.Comment.Text())
				}
				line := fset.Position(fld.Pos()).Line
				if doc == "" && prevDoc != "" && line == prevLine+1 {
					doc = prevDoc
				}
				for _, id := range fld.Names {
					fields[id.Name] = doc
				}
				if len(fld.Names) == 0 { // embedded
					fields[embeddedName(fld.Type)] = doc
				}
				prevDoc, prevLine = doc, fset.Position(fld.End()).Line
			}
			out[ts.Name.Name] = fields
			return true
		})
	}
	return out, nil
}

func embeddedName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.StarExpr:
		return embeddedName(t.X)
	case *ast.SelectorExpr:
		return t.Sel.Name
	}
	return ""
}

// goFiles lists the non-test Go files of a directory.
func goFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("configref: %w", err)
	}
	var files []string
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			files = append(files, filepath.Join(dir, n))
		}
	}
	return files, nil
}
