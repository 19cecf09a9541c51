//go:build !unix

package enrich

import "os/exec"

// setProcessGroup: without process groups, cancellation kills the direct
// child only (exec's default).
func setProcessGroup(cmd *exec.Cmd) {}
