package asm

import "testing"

func TestFMAPeakCountsFlops(t *testing.T) {
	want, want512 := 0, 0
	if hasAVX2FMA() {
		want = 10 * 12 * 8 * 2
	}
	if hasAVX512() {
		want512 = 10 * 12 * 16 * 2
	}
	if got := FMAPeak(10); got != want {
		t.Fatalf("FMAPeak(10) = %d flops, want %d", got, want)
	}
	if got := FMAPeakAVX512(10); got != want512 {
		t.Fatalf("FMAPeakAVX512(10) = %d flops, want %d", got, want512)
	}
}
