package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The release builds (Dockerfile, GoReleaser) set exactly the variables
// `refract version` reads, and the README's go install line names this
// module's command: a rename on either side fails here, not in a release.
func TestPackagingMatchesTheCommand(t *testing.T) {
	root := filepath.Join("..", "..")
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	vars := map[string]*string{"buildVersion": &buildVersion, "buildCommit": &buildCommit, "buildDate": &buildDate}
	for _, file := range []string{"Dockerfile", ".goreleaser.yaml"} {
		set := map[string]bool{}
		for _, m := range regexp.MustCompile(`-X main\.(\w+)=`).FindAllStringSubmatch(read(file), -1) {
			if vars[m[1]] == nil {
				t.Errorf("%s sets main.%s, which the command does not have", file, m[1])
			}
			set[m[1]] = true
		}
		if len(set) != len(vars) {
			t.Errorf("%s sets %v; want all of buildVersion, buildCommit, buildDate", file, set)
		}
		if !strings.Contains(read(file), "CGO_ENABLED=0") {
			t.Errorf("%s does not build a static binary (CGO_ENABLED=0)", file)
		}
	}
	module := regexp.MustCompile(`(?m)^module (\S+)$`).FindStringSubmatch(read("go.mod"))[1]
	if want := "go install " + module + "/cmd/refract@latest"; !strings.Contains(read("README.md"), want) {
		t.Errorf("README.md lacks %q", want)
	}
}
