package gateway_test

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill cmd's process if the test binary dies
// (a test timeout, a crash) before the test could stop it.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
