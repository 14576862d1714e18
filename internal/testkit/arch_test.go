package testkit_test

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// module is the import path every package of ours starts with.
const module = "github.com/refract-gateway/refract"

// maxPackageLines is the house's size limit for a non-generated package
// (non-test files only): a package that outgrows it holds more than one
// concept.
const maxPackageLines = 3000

// allowedImports is the house: for each package (relative to the module
// root), the packages of ours it may import. Arrows point down: cmd →
// server → setup → the runtime packages → the leaves. A package missing
// here fails the test, so a new package is a decision written down here.
// Test files may import more (test helpers, examples); only production
// files are held to this table.
var allowedImports = map[string][]string{
	// Leaves.
	"router":                nil,
	"reflection":            {"reflection/schemadiff"},
	"reflection/schemadiff": nil,
	"discovery":             nil,
	"transcode/rpcstatus":   nil,
	"transcode/wirejson":    {"transcode/rpcstatus"},
	"transcode/fieldmask":   nil,
	"transcode/compat":      {"transcode", "transcode/rpcstatus"},
	"transcode/httpmeta":    {"transcode/rpcstatus"},
	"transcode":             {"transcode/rpcstatus", "transcode/wirejson", "transcode/fieldmask", "router"},
	"transcode/openapi":     {"transcode", "transcode/rpcstatus", "transcode/wirejson", "router"},
	"transcode/bodyformat":  {"transcode", "transcode/rpcstatus"},
	"policy/resilience":     nil,
	"policy/jwt":            {"transcode/rpcstatus"},
	"policy":                {"policy/resilience", "policy/jwt", "transcode/rpcstatus", "router"},
	"policy/checks":         {"policy", "transcode/rpcstatus"},
	"policy/logqueue":       nil,

	// The engine and what it is built from.
	"gateway/config":              {"transcode/compat", "discovery", "transcode", "transcode/httpmeta", "policy", "policy/checks", "policy/jwt", "policy/logqueue", "policy/resilience", "gateway/config/yamlcheck", "gateway/config/aggregates", "gateway/config/extauthz", "gateway/config/transformcfg", "gateway/config/bodyformats"},
	"gateway/config/transformcfg": {"gateway/transform", "transcode/rpcstatus"},
	"gateway/transform":           {"transcode", "transcode/rpcstatus", "policy"},
	"gateway/config/aggregates":   {"gateway/config/yamlcheck", "router"},
	"gateway/config/extauthz":     {"gateway/config/yamlcheck", "policy"},
	"gateway/config/bodyformats":  {"transcode/bodyformat"},
	"gateway/config/yamlcheck":    {},
	"gateway/config/configref":    {"gateway/config", "gateway/config/yamlcheck"},
	"gateway/configsource":        {"discovery"},
	"gateway/upstream":            {"discovery", "reflection", "gateway/upstream/leanunary"},
	"gateway/upstream/leanunary":  {"transcode/rpcstatus"},
	"gateway/stream":              {"transcode/compat", "policy", "transcode", "transcode/rpcstatus"},
	"gateway/grpcproxy":           {"transcode/rpcstatus"},
	"gateway/compress":            nil,
	"gateway/respcache":           {"transcode/httpmeta"},
	"gateway/observe":             {"policy"},
	"gateway/products":            {"router"},
	"gateway": {"transcode/compat", "router", "reflection", "discovery", "transcode", "transcode/rpcstatus", "transcode/openapi",
		"policy", "policy/resilience", "gateway/upstream", "gateway/upstream/leanunary", "gateway/stream", "gateway/observe", "gateway/grpcproxy", "transcode/httpmeta", "gateway/compress", "gateway/respcache", "gateway/products", "gateway/transform", "transcode/bodyformat"},
	"gateway/aggregate": {"gateway", "router", "policy", "reflection", "transcode/rpcstatus", "transcode/openapi"},
	"gateway/setup": {"transcode/compat", "transcode/bodyformat", "gateway", "gateway/aggregate", "gateway/config", "gateway/config/aggregates", "gateway/config/extauthz", "gateway/upstream", "gateway/telemetry", "policy", "policy/checks", "policy/jwt", "policy/resilience",
		"transcode", "transcode/httpmeta", "gateway/compress", "gateway/respcache", "discovery", "reflection", "gateway/transform"},

	// Around the engine: what reads its read model and feeds on its
	// observer, and the process that owns the listeners.
	"gateway/telemetry":         {"gateway", "policy", "policy/checks", "transcode", "reflection", "gateway/transform"},
	"gateway/admin":             {"gateway", "gateway/config", "gateway/configsource", "gateway/telemetry", "transcode/rpcstatus", "reflection"},
	"gateway/admin/adminclient": {"gateway/admin"},
	"gateway/server": {"gateway", "gateway/config", "policy/logqueue", "gateway/configsource", "gateway/admin", "gateway/telemetry",
		"gateway/setup", "transcode/rpcstatus", "policy"},

	// The command and the examples.
	"cmd/refract":                    {"gateway", "gateway/server", "gateway/config", "gateway/configsource", "gateway/setup", "gateway/admin/adminclient", "gateway/telemetry", "examples"},
	"examples":                       {"examples/library", "examples/echo", "examples/accounts", "examples/library/librarypb", "examples/echo/echopb", "examples/accounts/accountspb"},
	"examples/library":               {"examples/library/librarypb"},
	"examples/library/librarypb":     nil,
	"examples/echo":                  {"examples/echo/echopb"},
	"examples/echo/echopb":           nil,
	"examples/accounts":              {"examples/accounts/accountspb"},
	"examples/accounts/accountspb":   nil,
	"examples/cmd/accounts-server":   {"examples", "examples/cmd/internal/serve"},
	"examples/cmd/echo-server":       {"examples", "examples/cmd/internal/serve"},
	"examples/cmd/library-server":    {"examples", "examples/cmd/internal/serve"},
	"examples/cmd/library-server-v2": {"examples", "examples/cmd/internal/serve"},
	"examples/cmd/internal/descset":  nil,
	"examples/cmd/internal/serve":    {"examples", "examples/cmd/internal/descset"},

	// Test support: imported by tests only.
	"internal/testkit":     nil,
	"discovery/consultest": {"internal/testkit"},
	"discovery/etcdtest":   {"internal/testkit"},
	"discovery/dnstest":    nil,
	"policy/policytest":    {"internal/testkit"},
}

// forbiddenExternal lists, per package, third-party import prefixes it must
// not use: the engine runs without Prometheus, OpenTelemetry or the YAML
// schema's decoder, which are injected or translated above it.
var forbiddenExternal = map[string][]string{
	"gateway":            {"github.com/prometheus/", "go.opentelemetry.io/", "go.yaml.in/yaml"},
	"gateway/stream":     {"github.com/prometheus/", "go.opentelemetry.io/", "go.yaml.in/yaml"},
	"gateway/observe":    {"github.com/prometheus/", "go.opentelemetry.io/", "go.yaml.in/yaml"},
	"router":             {"github.com/hashicorp/consul", "github.com/jhump/protoreflect"},
	"transcode/wirejson": {"google.golang.org/grpc", "github.com/jhump/protoreflect"},
}

// testOnly are packages production code must never import.
var testOnly = []string{"internal/testkit", "discovery/consultest", "discovery/etcdtest", "discovery/dnstest", "policy/policytest"}

type pkgInfo struct {
	imports map[string]bool // import paths of its production files
	lines   int             // lines of its non-generated production files
}

// scan reads every package under the module root (bench/ is a module of
// its own; testdata is not code).
func scan(t *testing.T, root string) map[string]*pkgInfo {
	t.Helper()
	pkgs := map[string]*pkgInfo{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", "bench", ".git", ".artifacts", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		info := pkgs[rel]
		if info == nil {
			info = &pkgInfo{imports: map[string]bool{}}
			pkgs[rel] = info
		}
		for _, is := range f.Imports {
			info.imports[strings.Trim(is.Path.Value, `"`)] = true
		}
		n, generated, err := countLines(p)
		if err != nil {
			return err
		}
		if !generated {
			info.lines += n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// countLines counts a file's lines and reports whether it is generated
// (the "Code generated ... DO NOT EDIT." line of go generate).
func countLines(p string) (int, bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	n, generated := 0, false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		n++
		if line := sc.Text(); strings.HasPrefix(line, "// Code generated ") && strings.HasSuffix(line, " DO NOT EDIT.") {
			generated = true
		}
	}
	return n, generated, sc.Err()
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// violations checks every production package against the allowed-imports
// table, the forbidden third-party imports and the size limit, and
// describes each breach.
func violations(pkgs map[string]*pkgInfo) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	var names []string
	for name := range pkgs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		info := pkgs[name]
		allowed, known := allowedImports[name]
		if !known {
			bad("%s: not in the allowed-imports table: add it, with the packages of ours it may import", name)
		}
		var imports []string
		for imp := range info.imports {
			imports = append(imports, imp)
		}
		sort.Strings(imports)
		for _, imp := range imports {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				ours := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
				switch {
				case slices.Contains(testOnly, ours) && !slices.Contains(testOnly, name):
					bad("%s imports %s, which only tests may import", name, ours)
				case known && !slices.Contains(allowed, ours):
					bad("%s imports %s: not allowed (allowed: %s)", name, ours, strings.Join(allowed, ", "))
				}
				continue
			}
			for _, prefix := range forbiddenExternal[name] {
				if strings.HasPrefix(imp, prefix) {
					bad("%s imports %s: forbidden there", name, imp)
				}
			}
		}
		if info.lines > maxPackageLines && !strings.HasPrefix(name, "examples/") {
			bad("%s has %d non-test lines (the limit is %d): which concept should move out?", name, info.lines, maxPackageLines)
		}
	}
	return out
}

// TestArchitecture holds the module's production packages to the house.
func TestArchitecture(t *testing.T) {
	pkgs := scan(t, moduleRoot(t))
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
	for name := range allowedImports {
		if _, ok := pkgs[name]; !ok {
			t.Errorf("%s is in the allowed-imports table but has no production files: drop it from the table", name)
		}
	}
}

// TestArchitectureCatchesViolations proves the check can fail: a small
// tree with an upward import, a forbidden third-party import, a test-only
// import, a package missing from the table and an oversized package gets
// exactly those five complaints.
func TestArchitectureCatchesViolations(t *testing.T) {
	root := t.TempDir()
	write := func(rel, src string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module "+module+"\n")
	write("router/router.go", "package router\n\nimport _ \""+module+"/gateway\"\n")
	write("router/router_test.go", "package router\n\nimport _ \""+module+"/internal/testkit\"\n") // tests may
	write("gateway/metrics.go", "package gateway\n\nimport _ \"github.com/prometheus/client_golang/prometheus\"\n")
	write("reflection/cache.go", "package reflection\n\nimport _ \""+module+"/internal/testkit\"\n")
	write("newpkg/x.go", "package newpkg\n")
	write("discovery/big.go", "package discovery\n"+strings.Repeat("\n", maxPackageLines))
	write("examples/library/librarypb/big.pb.go", "// Code generated by protoc-gen-go. DO NOT EDIT.\n\npackage librarypb\n"+strings.Repeat("\n", maxPackageLines))
	got := violations(scan(t, root))
	want := []string{
		"discovery has 3001 non-test lines (the limit is 3000): which concept should move out?",
		"gateway imports github.com/prometheus/client_golang/prometheus: forbidden there",
		"newpkg: not in the allowed-imports table: add it, with the packages of ours it may import",
		"reflection imports internal/testkit, which only tests may import",
		"router imports gateway: not allowed (allowed: )",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
