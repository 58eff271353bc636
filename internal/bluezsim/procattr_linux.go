package bluezsim

import "syscall"

// daemonProcAttr makes the kernel send SIGTERM to the dbus-daemon when the thread that started
// it ends (see startLocked).
func daemonProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
