package asm

import "testing"

func TestFMAPeakCountsFlops(t *testing.T) {
	was := SetGeneric(false)
	defer SetGeneric(was)
	want := 0
	if Impl() == "avx2fma" {
		want = 10 * 12 * 8 * 2
	}
	if got := FMAPeak(10); got != want {
		t.Fatalf("FMAPeak(10) = %d flops, want %d", got, want)
	}
}
