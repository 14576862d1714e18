//go:build !linux

package gateway_test

import "os/exec"

// dieWithParent: only Linux can tie a child's life to its parent's; other
// systems rely on the tests' cleanups.
func dieWithParent(*exec.Cmd) {}
