//go:build cgo && linux

package vk

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/halo-ml/halo/tensor/backendtest"
)

var (
	testOnce sync.Once
	testB    *Backend
	testErr  error
)

// testBackend opens the device named by HALO_VK_DEVICE, else a GPU, else
// lavapipe (named, as a CPU implementation must be), or skips the test.
func testBackend(t testing.TB) *Backend {
	t.Helper()
	testOnce.Do(func() {
		want := os.Getenv("HALO_VK_DEVICE")
		testB, testErr = open(want)
		if testErr != nil && want == "" {
			var err2 error
			if testB, err2 = open("llvmpipe"); err2 == nil {
				testErr = nil
			}
		}
	})
	if testErr != nil {
		t.Skipf("no Vulkan device: %v", testErr)
	}
	return testB
}

// TestMain fails the package when the validation layer (HALO_VK_VALIDATE=1)
// reported an error in any test, beyond the one made on purpose.
func TestMain(m *testing.M) {
	code := m.Run()
	if n := ValidationErrors() - validationBaseline; n != 0 {
		fmt.Fprintf(os.Stderr, "vk: %d validation errors during the tests\n", n)
		code = 1
	}
	os.Exit(code)
}

func TestConformance(t *testing.T) {
	b := testBackend(t)
	t.Logf("device: %s", b.Name())
	backendtest.Run(t, b)
	if n := ValidationErrors() - validationBaseline; n != 0 {
		t.Errorf("%d validation errors", n)
	}
}

// TestValidationLayerIsLive makes one invalid call on purpose (a fill whose
// size is not a multiple of 4) to show that, with HALO_VK_VALIDATE=1, the
// layer is loaded and its errors are counted, so the zero counts checked by
// the other tests mean something.
func TestValidationLayerIsLive(t *testing.T) {
	if os.Getenv("HALO_VK_VALIDATE") != "1" {
		t.Skip("HALO_VK_VALIDATE=1 not set")
	}
	b := testBackend(t)
	before := ValidationErrors()
	x := b.alloc(16)
	b.badFillForTest(x)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if ValidationErrors() == before {
		t.Fatal("an invalid fill was not reported: the validation layer is not active")
	}
	validationBaseline = ValidationErrors()
}

// TestLimits checks the limits read through the binding and through our
// own vkGetPhysicalDeviceProperties2 call against what every device
// offers.
func TestLimits(t *testing.T) {
	b := testBackend(t)
	l := b.Limits()
	t.Logf("%s: %+v", b.Name(), l)
	if l.MaxWorkgroupInvocations < 128 || l.MaxSharedMemory < 16384 || l.MaxPushConstants < 128 || l.MaxWorkgroupCount[0] < 65535 {
		t.Errorf("limits below Vulkan's minimums: %+v", l)
	}
	if s := l.SubgroupSize; s != 0 && (s < 1 || s > 128 || s&(s-1) != 0) {
		t.Errorf("subgroup size %d is not a power of two up to 128", s)
	}
}

func TestDevices(t *testing.T) {
	testBackend(t)
	ds, err := Devices()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, d := range ds {
		t.Logf("%+v", d)
		if d.Index != i || d.Name == "" {
			t.Errorf("device %d: %+v", i, d)
		}
		if d.UUID != "" && seen[d.UUID] {
			t.Errorf("device %s listed twice", d.UUID)
		}
		seen[d.UUID] = true
	}
}
