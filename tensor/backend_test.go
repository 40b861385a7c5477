package tensor_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/halo-ml/halo/asm"
	"github.com/halo-ml/halo/tensor"
	"github.com/halo-ml/halo/tensor/backendtest"
)

// TestCPUConformance runs the backend suite on the CPU with the assembly
// kernels and with their pure-Go twins.
func TestCPUConformance(t *testing.T) {
	for _, impl := range []string{asm.ImplAVX512, asm.ImplAVX2FMA, asm.ImplGeneric} {
		t.Run(impl, func(t *testing.T) {
			if !slices.Contains(asm.Impls(), impl) {
				t.Skipf("%s kernels not available: %s", impl, asm.Why())
			}
			was := asm.SetImpl(impl)
			t.Cleanup(func() { asm.SetImpl(was) })
			backendtest.Run(t, tensor.CPU())
		})
	}
}

func TestOpenAutoFallsBackToCPU(t *testing.T) {
	b, note, err := tensor.Open("auto")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.Name(), "cpu") || !strings.Contains(note, "cpu") {
		t.Fatalf("auto opened %q (%s), want the CPU when nothing else is registered", b.Name(), note)
	}
	if _, _, err := tensor.Open("no-such-device"); err == nil || !strings.Contains(err.Error(), "cpu") {
		t.Fatalf("Open of an unknown backend: err = %v, want one listing the registered backends", err)
	}
}
