package halo

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/halo-ml/halo/tensor"
)

// countingSplit makes sequence i hold the value i/1000 everywhere.
type countingSplit struct {
	n, failAt int
	masks     bool
}

func (s *countingSplit) Len() int   { return s.n }
func (s *countingSplit) Dims() Dims { return Dims{T: 4, C: 1, H: 2, W: 3} }
func (s *countingSplit) Label(i int) Label {
	l := Label{Motion: i % 3}
	if s.masks {
		l.Mask = []bool{true, i%2 == 0, true, false}
	}
	return l
}
func (s *countingSplit) Read(i int, dst []float32) error {
	if i == s.failAt {
		return errors.New("broken sequence")
	}
	for k := range dst {
		dst[k] = float32(i) / 1000
	}
	return nil
}

func TestLoaderDeterministicCoverage(t *testing.T) {
	s := &countingSplit{n: 103, failAt: -1, masks: true}
	l := NewLoader(s, LoaderConfig{BatchSize: 10, Seed: 7, Shuffle: true, Scale: Symmetric, Workers: 3})
	if l.NumBatches() != 11 {
		t.Fatalf("%d batches", l.NumBatches())
	}
	epoch := func(e int) []int {
		var order []int
		for b, err := range l.Batches(e) {
			if err != nil {
				t.Fatal(err)
			}
			d := s.Dims()
			for k, i := range b.Index {
				// Contents: the sequence read, mapped to [-1, 1].
				for _, v := range b.X.Data()[k*d.Len() : (k+1)*d.Len()] {
					if v != 2*float32(i)/1000-1 {
						t.Fatalf("batch item %d holds %v for sequence %d", k, v, i)
					}
				}
				if b.Labels[k].Motion != i%3 {
					t.Fatal("labels out of step with the data")
				}
				want := []float32{1, 0, 1, 0}
				if i%2 == 0 {
					want[1] = 1
				}
				for tt, m := range want {
					if b.Mask[k*4+tt] != m {
						t.Fatalf("mask of sequence %d: %v", i, b.Mask[k*4:k*4+4])
					}
				}
			}
			order = append(order, b.Index...)
		}
		return order
	}
	a, b, c := epoch(0), epoch(0), epoch(1)
	seen := make([]bool, s.n)
	for _, i := range a {
		if seen[i] {
			t.Fatalf("sequence %d twice in an epoch", i)
		}
		seen[i] = true
	}
	if len(a) != s.n {
		t.Fatalf("epoch has %d sequences", len(a))
	}
	same := 0
	for k := range a {
		if a[k] != b[k] {
			t.Fatal("one seed and epoch gave two orders")
		}
		if a[k] == c[k] {
			same++
		}
	}
	if same > 10 {
		t.Errorf("epochs 0 and 1 agree at %d of %d positions", same, s.n)
	}
	// No shuffle: file order; DropLast drops the short batch.
	l2 := NewLoader(s, LoaderConfig{BatchSize: 10, DropLast: true})
	n := 0
	for b, err := range l2.Batches(3) {
		if err != nil {
			t.Fatal(err)
		}
		for k, i := range b.Index {
			if i != n+k {
				t.Fatalf("unshuffled order: %v", b.Index)
			}
		}
		n += len(b.Index)
	}
	if n != 100 {
		t.Fatalf("DropLast gave %d sequences", n)
	}
}

func TestLoaderErrorAndEarlyStop(t *testing.T) {
	before := runtime.NumGoroutine()
	s := &countingSplit{n: 200, failAt: 57}
	l := NewLoader(s, LoaderConfig{BatchSize: 8, Workers: 4})
	var got error
	batches := 0
	for _, err := range l.Batches(0) {
		if err != nil {
			got = err
			break
		}
		batches++
	}
	if got == nil || got.Error() != "broken sequence" || batches != 57/8 {
		t.Fatalf("error %v after %d batches", got, batches)
	}
	ok := &countingSplit{n: 500, failAt: -1}
	for range NewLoader(ok, LoaderConfig{BatchSize: 4, Workers: 4, Prefetch: 3}).Batches(0) {
		break
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left running (%d before)", n, before)
	}
}

func benchmarkLoader(b *testing.B, s Split, batch int) {
	l := NewLoader(s, LoaderConfig{BatchSize: batch, Seed: 1, Shuffle: true, Scale: Symmetric})
	nb := 0
	start := time.Now()
	for b.Loop() {
		for _, err := range l.Batches(nb) {
			if err != nil {
				b.Fatal(err)
			}
			nb++
			if nb%50 == 0 {
				break
			}
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(nb), "ms/batch")
}

// The loader benchmarks time whole batches at the presets' batch sizes;
// compare ms/batch with a training step's time.
func BenchmarkLoaderPSpritesBatch24(b *testing.B) { benchmarkLoader(b, PSprites().Train, 24) }
func BenchmarkLoaderBallsBatch24(b *testing.B)    { benchmarkLoader(b, Balls(false).Train, 24) }

// BenchmarkModelFloorConvSprites times one layer of a Sprites encoder
// (Conv2d 64->128, 4x4, stride 2, on 32x32 maps) for one batch of 24 x 8
// frames, forward only: a floor for the model's time per batch, which runs
// about ten such layers forwards and backwards. Compare its ms/batch with
// BenchmarkLoaderPSpritesBatch24 in the same run.
func BenchmarkModelFloorConvSprites(b *testing.B) {
	x := tensor.New(24*8, 64, 32, 32)
	w := tensor.New(128, 64, 4, 4)
	r := NewSplitMix64(3)
	for i := range x.Data() {
		x.Data()[i] = float32(r.Float64())
	}
	for i := range w.Data() {
		w.Data()[i] = float32(r.Float64() - 0.5)
	}
	p := tensor.ConvParams{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}
	n := 0
	start := time.Now()
	for b.Loop() {
		tensor.Conv2d(x, w, nil, p)
		n++
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(n), "ms/batch")
}
