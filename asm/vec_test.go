package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// vecSizes covers every tail length around the 8- and 32-element steps.
var vecSizes = func() []int {
	s := []int{}
	for n := 0; n <= 70; n++ {
		s = append(s, n)
	}
	return append(s, 127, 128, 129, 1000, 4099)
}()

// vecInput returns n values with specials sprinkled in (when specials),
// at an unaligned offset inside a NaN-guarded buffer.
func vecInput(r *rand.Rand, n int, specials bool) (s []float32, intact func() bool) {
	s, intact = guarded(n, r.IntN(8))
	vals := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-40}
	for i := range s {
		s[i] = float32(r.NormFloat64())
		if specials && r.IntN(8) == 0 {
			s[i] = vals[r.IntN(len(vals))]
		}
	}
	return s, intact
}

func same(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// close reports whether got is within rounding of want for a sum of n terms
// whose magnitudes add up to mag.
func close(got, want float64, n int, mag float64) bool {
	return math.Abs(got-want) <= 1e-6*float64(n+1)*mag+1e-30
}

func TestElementwiseMatchesDefinition(t *testing.T) {
	type op struct {
		name string
		run  func(dst, x, y []float32)
		want func(x, y float32) float32
	}
	const slope = 0.2
	ops := []op{
		{"Add", func(d, x, y []float32) { Add(d, x, y) }, func(x, y float32) float32 { return x + y }},
		{"Mul", func(d, x, y []float32) { Mul(d, x, y) }, func(x, y float32) float32 { return x * y }},
		{"Relu", func(d, x, _ []float32) { Relu(d, x) }, func(x, _ float32) float32 {
			if x > 0 || x != x {
				return x
			}
			return 0
		}},
		{"ReluBackward", func(d, x, y []float32) { ReluBackward(d, x, y) }, func(x, dy float32) float32 {
			if x <= 0 {
				return 0
			}
			return dy
		}},
		{"LeakyRelu", func(d, x, _ []float32) { LeakyRelu(d, x, slope) }, func(x, _ float32) float32 {
			if x > 0 {
				return x
			}
			return slope * x
		}},
		{"LeakyReluBackward", func(d, x, y []float32) { LeakyReluBackward(d, x, y, slope) }, func(x, dy float32) float32 {
			if x > 0 {
				return dy
			}
			return slope * dy
		}},
	}
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, o := range ops {
			for _, n := range vecSizes {
				x, xok := vecInput(r, n, true)
				y, yok := vecInput(r, n, true)
				d, dok := vecInput(r, n, false)
				x0 := append([]float32(nil), x...)
				y0 := append([]float32(nil), y...)
				o.run(d, x, y)
				for i := range d {
					if w := o.want(x0[i], y0[i]); !same(d[i], w) {
						t.Fatalf("%s n=%d: [%d] = %g, want %g (x=%g y=%g)", o.name, n, i, d[i], w, x0[i], y0[i])
					}
				}
				if !xok() || !yok() || !dok() {
					t.Fatalf("%s n=%d: guard band written", o.name, n)
				}
				for i := range x {
					if !same(x[i], x0[i]) || !same(y[i], y0[i]) {
						t.Fatalf("%s n=%d: input modified", o.name, n)
					}
				}
				// In place: dst aliasing x must give the same result.
				o.run(x, x, y)
				for i := range x {
					if w := o.want(x0[i], y0[i]); !same(x[i], w) {
						t.Fatalf("%s n=%d in place: [%d] = %g, want %g", o.name, n, i, x[i], w)
					}
				}
			}
		}
	})
}

func TestAxpyScale(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, n := range vecSizes {
			for _, alpha := range []float32{0, 1, -0.3} {
				x, xok := vecInput(r, n, false)
				y, yok := vecInput(r, n, false)
				y0 := append([]float32(nil), y...)
				Axpy(alpha, x, y)
				for i := range y {
					want := float64(y0[i]) + float64(alpha)*float64(x[i])
					if !close(float64(y[i]), want, 1, math.Abs(float64(y0[i]))+math.Abs(float64(alpha*x[i]))) {
						t.Fatalf("Axpy n=%d alpha=%g: [%d] = %g, want %g", n, alpha, i, y[i], want)
					}
				}
				x0 := append([]float32(nil), x...)
				Scale(alpha, x)
				for i := range x {
					if !same(x[i], alpha*x0[i]) {
						t.Fatalf("Scale n=%d: [%d] = %g, want %g", n, i, x[i], alpha*x0[i])
					}
				}
				if !xok() || !yok() {
					t.Fatalf("n=%d: guard band written", n)
				}
			}
		}
	})
}

func TestDotSum(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for _, n := range vecSizes {
			x, _ := vecInput(r, n, false)
			y, _ := vecInput(r, n, false)
			var dot, dmag, sum, smag float64
			for i := range x {
				dot += float64(x[i]) * float64(y[i])
				dmag += math.Abs(float64(x[i]) * float64(y[i]))
				sum += float64(x[i])
				smag += math.Abs(float64(x[i]))
			}
			if got := Dot(x, y); !close(float64(got), dot, n, dmag) {
				t.Fatalf("Dot n=%d = %g, want %g", n, got, dot)
			}
			if got := Sum(x); !close(float64(got), sum, n, smag) {
				t.Fatalf("Sum n=%d = %g, want %g", n, got, sum)
			}
		}
		// NaN and Inf propagate.
		x := make([]float32, 40)
		x[33] = float32(math.NaN())
		if s := Sum(x); s == s {
			t.Fatalf("Sum with a NaN = %g", s)
		}
		x[33] = float32(math.Inf(1))
		if s := Dot(x, x); !math.IsInf(float64(s), 1) {
			t.Fatalf("Dot with +Inf = %g", s)
		}
	})
}

func TestVecLengthMismatchPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"Axpy": func() { Axpy(1, make([]float32, 3), make([]float32, 4)) },
		"Dot":  func() { Dot(make([]float32, 3), make([]float32, 4)) },
		"Add":  func() { Add(make([]float32, 3), make([]float32, 3), make([]float32, 4)) },
		"Relu": func() { Relu(make([]float32, 2), make([]float32, 3)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic on mismatched lengths", name)
				}
			}()
			f()
		}()
	}
}
