//go:build unix

package enrich

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the analyzer in its own process group and makes
// cancellation kill the whole group: analyzers are often shell or Python
// wrappers whose children would otherwise outlive the timeout.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
