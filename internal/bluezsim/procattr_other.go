//go:build !linux

package bluezsim

import "syscall"

func daemonProcAttr() *syscall.SysProcAttr { return nil }
