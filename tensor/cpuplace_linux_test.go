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
// thread's affinity either way. Where the thread runs after the mask is
// restored is the scheduler's choice (on a loaded machine it may move
// straight back), so the move is checked inside the narrowed window.
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
	const tries = 20
	narrowed := 0
	for range tries {
		cpu := currentCPU()
		if cpu < 0 || before[cpu/64]&(1<<(cpu%64)) == 0 {
			t.Fatalf("currentCPU() = %d, not an allowed CPU", cpu)
		}
		other := (cpu + 1) % int32(runtime.NumCPU())
		leaveCPU(other)
		if after := affinity(t); after != before {
			t.Fatalf("leaveCPU(%d) changed the affinity", other)
		}
		during := int32(-1)
		if leaveCPUThen(cpu, func() { during = currentCPU() }) {
			narrowed++
			if during == cpu {
				t.Fatalf("leaveCPU(%d): the thread still ran on CPU %d with the CPU excluded", cpu, during)
			}
		} else if during != -1 {
			t.Fatalf("leaveCPU(%d) called during without narrowing the mask", cpu)
		}
		if after := affinity(t); after != before {
			t.Fatalf("leaveCPU(%d) changed the affinity", cpu)
		}
	}
	// A thread moves on its own between two system calls only rarely; if
	// it never stayed put long enough, leaveCPU never acted.
	if narrowed == 0 {
		t.Fatalf("leaveCPU never found the thread on the CPU it was given in %d tries", tries)
	}
	if leaveCPUThen(-1, nil) { // unknown: nothing to do
		t.Fatal("leaveCPU(-1) narrowed the mask")
	}
}
