package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBatchNormIllConditioned checks the CPU batch norm, forward and
// backward in training mode, against a float64 evaluation of its formulas
// on channels whose spread is tiny against their mean (1000 ± 0.01) as
// well as ordinary ones. Normalising such a channel with the mean rounded
// to float32 shifts its outputs by a few tenths of a percent of their unit
// scale; the kernels must stay within 1e-4 of it.
func TestBatchNormIllConditioned(t *testing.T) {
	a := BatchNormArgs{N: 3, C: 4, HW: 37, Eps: 1e-5, Training: true, Momentum: 0.1}
	n := a.N * a.C * a.HW
	r := rand.New(rand.NewPCG(5, 6))
	offset := []float64{1000, 0, -250, 3}
	spread := []float64{0.01, 1, 0.01, 2}
	x, dy := make([]float32, n), make([]float32, n)
	for i := range x {
		c := i / a.HW % a.C
		x[i] = float32(offset[c] + spread[c]*r.NormFloat64())
		dy[i] = float32(r.NormFloat64())
	}
	gamma, beta := []float32{1.5, -0.5, 1, 2}, []float32{0.1, 0, -1, 0.5}
	rm, rv := make([]float32, a.C), []float32{1, 1, 1, 1}
	sm, si, y := make([]float32, a.C), make([]float32, a.C), make([]float32, n)
	dx, dg, db := make([]float32, n), make([]float32, a.C), make([]float32, a.C)
	be := CPU()
	be.BatchNorm(a, HostBuffer(x), HostBuffer(gamma), HostBuffer(beta), HostBuffer(rm), HostBuffer(rv),
		HostBuffer(sm), HostBuffer(si), HostBuffer(y))
	be.BatchNormBackward(a, HostBuffer(x), HostBuffer(dy), HostBuffer(gamma), HostBuffer(sm), HostBuffer(si),
		HostBuffer(dx), HostBuffer(dg), HostBuffer(db))

	m := float64(a.N * a.HW)
	for c := range a.C {
		at := func(n, i int) int { return (n*a.C+c)*a.HW + i }
		var mean, ss float64
		for n := range a.N {
			for i := range a.HW {
				mean += float64(x[at(n, i)])
			}
		}
		mean /= m
		for n := range a.N {
			for i := range a.HW {
				d := float64(x[at(n, i)]) - mean
				ss += d * d
			}
		}
		inv := 1 / math.Sqrt(ss/m+float64(a.Eps))
		// The backward pass is handed the saved statistics, rounded to
		// float32 as PyTorch's are; its reference uses them too.
		bmean, binv := float64(sm[c]), float64(si[c])
		var sdy, sdyx float64
		for n := range a.N {
			for i := range a.HW {
				sdy += float64(dy[at(n, i)])
				sdyx += float64(dy[at(n, i)]) * (float64(x[at(n, i)]) - bmean) * binv
			}
		}
		g := float64(gamma[c])
		for n := range a.N {
			for i := range a.HW {
				wantY := g*(float64(x[at(n, i)])-mean)*inv + float64(beta[c])
				xhat := (float64(x[at(n, i)]) - bmean) * binv
				wantDx := g * binv * (float64(dy[at(n, i)]) - sdy/m - xhat*sdyx/m)
				if d := math.Abs(float64(y[at(n, i)]) - wantY); d > 1e-4*(1+math.Abs(wantY)) {
					t.Fatalf("channel %d (mean %g, spread %g): y = %g, float64 %g", c, offset[c], spread[c], y[at(n, i)], wantY)
				}
				if d := math.Abs(float64(dx[at(n, i)]) - wantDx); d > 1e-4*(math.Abs(g)*binv+math.Abs(wantDx)) {
					t.Fatalf("channel %d (mean %g, spread %g): dx = %g, float64 %g", c, offset[c], spread[c], dx[at(n, i)], wantDx)
				}
			}
		}
		if d := math.Abs(float64(dg[c]) - sdyx); d > 1e-4*(1+math.Abs(sdyx)) {
			t.Fatalf("channel %d: dgamma = %g, float64 %g", c, dg[c], sdyx)
		}
		if d := math.Abs(float64(db[c]) - sdy); d > 1e-4*(1+math.Abs(sdy)) {
			t.Fatalf("channel %d: dbeta = %g, float64 %g", c, db[c], sdy)
		}
	}
}
