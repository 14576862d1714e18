package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestRunExitCodes(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("upstreams:\n  - name: x\n    statik: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "give exactly one of -config FILE or -demo"},
		{[]string{"-demo", "-config", bad}, 2, "give exactly one"},
		{[]string{"-nope"}, 2, "flag provided but not defined: -nope"},
		{[]string{"-config", bad}, 2, "line 3: upstreams[0].statik: unknown key; did you mean static?"},
		{[]string{"-config", filepath.Join(t.TempDir(), "none.yaml")}, 2, "no such file"},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("run(%v) = %d, stderr %q; want %d and %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}

// Arguments left after the flags are an error, not silently dropped with
// every flag after them; in each subcommand too.
func TestRunRefusesPositionalArguments(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.yaml")
	if err := os.WriteFile(good, []byte("upstreams:\n  - {name: a, static: [\"127.0.0.1:1\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-config", good, "extra", "-listen", "127.0.0.1:0"}, `refract: unexpected argument "extra"`},
		{[]string{"-demo", "serve"}, `refract: unexpected argument "serve"`},
		{[]string{"validate", "-config", good, "other.yaml"}, `refract validate: unexpected argument "other.yaml"`},
		{[]string{"routes", "-config", good, "x"}, `refract routes: unexpected argument "x"`},
		{[]string{"version", "--short"}, "flag provided but not defined: -short"},
		{[]string{"version", "now"}, `refract version: unexpected argument "now"`},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.want) || out.Len() != 0 {
			t.Errorf("run(%v) = %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out.String(), errb.String(), tc.want)
		}
	}
}

// -h names every subcommand and flag and exits 0.
func TestRunHelpListsSubcommands(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-h"}, &out, &errb); code != 0 {
		t.Fatalf("-h exited %d", code)
	}
	for _, want := range []string{"refract validate -config FILE", "refract routes -config FILE", "refract version", "refract config get|apply",
		"refract -demo", "-config string", "-listen string", "-admin string", "-version", "Exit codes: 0"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("-h does not mention %q:\n%s", want, errb.String())
		}
	}
	errb.Reset()
	if code := run([]string{"validate", "-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-config string") {
		t.Fatalf("validate -h: %d %s", code, errb.String())
	}
}

// `refract version` and -version print the values set at link time, and
// without them what the binary's build information holds.
func TestRunVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"-version"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 || errb.Len() != 0 {
			t.Fatalf("%v: %d %q", args, code, errb.String())
		}
		// A test binary has no module version or VCS stamp: devel, unknown.
		if want := "refract devel (commit unknown, built unknown, " + runtime.Version() + ")\n"; out.String() != want {
			t.Fatalf("%v printed %q, want %q", args, out.String(), want)
		}
	}
	buildVersion, buildCommit, buildDate = "v1.4.0", "0123456789abcdef0123456789abcdef01234567", "2026-12-01T10:00:00Z"
	t.Cleanup(func() { buildVersion, buildCommit, buildDate = "", "", "" })
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb); code != 0 {
		t.Fatal(code)
	}
	if want := "refract v1.4.0 (commit 0123456789ab, built 2026-12-01T10:00:00Z, " + runtime.Version() + ")\n"; out.String() != want {
		t.Fatalf("printed %q, want %q", out.String(), want)
	}
}
