package main

import (
	"bytes"
	"os"
	"path/filepath"
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
