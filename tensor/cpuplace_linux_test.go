//go:build linux && (amd64 || arm64)

package tensor

import (
	"runtime"
	"syscall"
	"testing"
	"unsafe"
)

func affinity(t *testing.T) cpuMask {
	t.Helper()
	var m cpuMask
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m))); e != 0 {
		t.Fatalf("sched_getaffinity: %v", e)
	}
	return m
}

// TestLeaveCPU checks that leaveCPU moves the thread off the CPU it runs
// on, leaves it where it is when given another CPU, and restores the
// thread's affinity either way.
func TestLeaveCPU(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := affinity(t)
	allowed := 0
	for _, w := range before {
		for ; w != 0; w &= w - 1 {
			allowed++
		}
	}
	if allowed < 2 {
		t.Skipf("the process may run on %d CPU; leaving one needs two", allowed)
	}
	for range 20 {
		cpu := currentCPU()
		if cpu < 0 || before[cpu/64]&(1<<(cpu%64)) == 0 {
			t.Fatalf("currentCPU() = %d, not an allowed CPU", cpu)
		}
		other := (cpu + 1) % int32(runtime.NumCPU())
		leaveCPU(other)
		if after := affinity(t); after != before {
			t.Fatalf("leaveCPU(%d) changed the affinity", other)
		}
		leaveCPU(cpu)
		if now := currentCPU(); now == cpu {
			t.Fatalf("leaveCPU(%d): the thread still runs on CPU %d", cpu, now)
		}
		if after := affinity(t); after != before {
			t.Fatalf("leaveCPU(%d) changed the affinity", cpu)
		}
	}
	leaveCPU(-1) // unknown: nothing to do
}
