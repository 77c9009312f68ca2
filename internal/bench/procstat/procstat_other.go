//go:build !linux

package procstat

import "time"

// Self returns this process's usage. Only Linux is supported for now.
func Self() (Usage, error) { return Usage{}, ErrUnsupported }

// Of returns the usage of process pid. Only Linux is supported for now.
func Of(int) (Usage, error) { return Usage{}, ErrUnsupported }

// ResetPeak resets this process's peak RSS. Only Linux is supported.
func ResetPeak() error { return ErrUnsupported }

// ThreadCPU returns the CPU time of the calling OS thread. Only Linux is
// supported for now.
func ThreadCPU() (time.Duration, error) { return 0, ErrUnsupported }
