//go:build !linux

package spool

import "syscall"

func fdatasync(fd int) error { return syscall.Fsync(fd) }
