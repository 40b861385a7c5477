//go:build linux && (amd64 || arm64)

package tensor

import (
	"syscall"
	"unsafe"
)

// cpuMask is a Linux CPU affinity mask for up to 1024 CPUs.
type cpuMask [1024 / 64]uint64

// currentCPU returns the CPU the calling thread runs on, or -1.
func currentCPU() int32 {
	var cpu, node uint32
	if _, _, e := syscall.RawSyscall(sysGetcpu, uintptr(unsafe.Pointer(&cpu)), uintptr(unsafe.Pointer(&node)), 0); e != 0 {
		return -1
	}
	return int32(cpu)
}

// leaveCPU moves the calling thread off cpu when it runs there, and
// leaves its affinity as it was. Linux wakes a thread on the CPU of the
// thread that woke it when it judges the others busy, and on a virtual
// machine an idle virtual CPU counts as busy while the host has it
// descheduled: a worker woken by runParts then shared one CPU with the
// caller, taking turns, for several milliseconds until the load balancer
// moved it (two 500 µs parts took 1.2 ms instead of 0.5). Narrowing the
// affinity for a moment migrates the thread at once.
func leaveCPU(cpu int32) { leaveCPUThen(cpu, nil) }

// leaveCPUThen is leaveCPU that calls during, when not nil, while the
// narrowed affinity holds, and reports whether it narrowed it. Once the
// full mask is back the scheduler may move the thread again at any time,
// so only inside that window is "not on cpu" a guarantee a test can check.
func leaveCPUThen(cpu int32, during func()) bool {
	if cpu < 0 || currentCPU() != cpu {
		return false
	}
	var all cpuMask
	n, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(all), uintptr(unsafe.Pointer(&all)))
	if e != 0 || int(cpu) >= 8*int(n) {
		return false
	}
	others := all
	others[cpu/64] &^= 1 << (cpu % 64)
	if others == (cpuMask{}) {
		return false // nowhere else to go
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(others), uintptr(unsafe.Pointer(&others))); e != 0 {
		return false
	}
	if during != nil {
		during()
	}
	syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(all), uintptr(unsafe.Pointer(&all)))
	return true
}
