package tensor

import (
	"iter"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestDealChunksRunsEachChunkOnce(t *testing.T) {
	for workers := 1; workers <= 4; workers++ {
		for count := 0; count <= 20; count++ {
			runs := make([]atomic.Int32, count)
			var bad atomic.Bool
			dealChunks(workers, count, func(w int, chunks iter.Seq[int]) {
				if w < 0 || w >= workers {
					bad.Store(true)
				}
				for i := range chunks {
					runs[i].Add(1)
				}
			})
			if bad.Load() {
				t.Fatalf("workers %d, count %d: a worker index out of range", workers, count)
			}
			for i := range runs {
				if n := runs[i].Load(); n != 1 {
					t.Fatalf("workers %d, count %d: chunk %d ran %d times", workers, count, i, n)
				}
			}
		}
	}
}

// TestDealSumsIsDeterministic checks that every chunk runs once, that a
// sum's chunks run one at a time in increasing order, and that float sums
// built that way match a sequential run bit for bit, while one goroutine
// is made slow so that the dealing differs from run to run.
func TestDealSumsIsDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	vals := make([]float32, 64)
	for i := range vals {
		vals[i] = float32(r.NormFloat64()) * float32(int(1)<<r.IntN(20))
	}
	for workers := 1; workers <= 3; workers++ {
		for count := 0; count <= 25; count++ {
			sums := sumSlots(workers, count)
			want := make([]float32, max(sums, 1))
			for i := range count {
				want[i%len(want)] += vals[i%len(vals)]
			}
			for rep := range 3 {
				got := make([]float32, len(want))
				last := make([]int, len(want))
				for s := range last {
					last[s] = -1
				}
				busy := make([]atomic.Bool, len(want))
				var mu sync.Mutex
				runs := make([]int, count)
				var bad atomic.Value
				dealSums(workers, sums, count, func(w int, chunks iter.Seq2[int, int]) {
					for s, i := range chunks {
						if !busy[s].CompareAndSwap(false, true) {
							bad.Store("two goroutines in one sum")
						}
						if w == rep%workers && count > 2 {
							time.Sleep(200 * time.Microsecond)
						}
						if i%len(want) != s || i <= last[s] {
							bad.Store("chunk out of its sum or out of order")
						}
						last[s] = i
						got[s] += vals[i%len(vals)]
						mu.Lock()
						runs[i]++
						mu.Unlock()
						busy[s].Store(false)
					}
				})
				if v := bad.Load(); v != nil {
					t.Fatalf("workers %d, count %d: %s", workers, count, v)
				}
				for i, n := range runs {
					if n != 1 {
						t.Fatalf("workers %d, count %d: chunk %d ran %d times", workers, count, i, n)
					}
				}
				for s := range got {
					if got[s] != want[s] {
						t.Fatalf("workers %d, count %d: sum %d is %v, sequentially %v", workers, count, s, got[s], want[s])
					}
				}
			}
		}
	}
}

// TestDealStopEarly checks that a goroutine that stops ranging over its
// chunks after the first leaves the rest, and the sum it held, to the
// others: every chunk still runs once.
func TestDealStopEarly(t *testing.T) {
	const count = 10
	var runs [count]atomic.Int32
	dealChunks(2, count, func(w int, chunks iter.Seq[int]) {
		for i := range chunks {
			runs[i].Add(1)
			if w == 0 {
				break
			}
		}
	})
	var sumRuns [count]atomic.Int32
	dealSums(2, 3, count, func(w int, chunks iter.Seq2[int, int]) {
		for _, i := range chunks {
			sumRuns[i].Add(1)
			if w == 0 {
				break
			}
		}
	})
	for i := range count {
		if n, m := runs[i].Load(), sumRuns[i].Load(); n != 1 || m != 1 {
			t.Errorf("chunk %d ran %d times dealt alone, %d times into sums", i, n, m)
		}
	}
}

func TestSumSlots(t *testing.T) {
	for _, c := range []struct{ workers, count, want int }{
		{1, 10, 1}, {2, 10, 3}, {2, 2, 2}, {2, 1, 1}, {4, 10, 5}, {3, 0, 1},
	} {
		if got := sumSlots(c.workers, c.count); got != c.want {
			t.Errorf("sumSlots(%d, %d) = %d, want %d", c.workers, c.count, got, c.want)
		}
	}
}

func TestEvenChunk(t *testing.T) {
	// The most items any goroutine gets when chunks of nb go out in turn.
	load := func(n, nb, workers int) int {
		per := make([]int, workers)
		for i, left := 0, n; left > 0; i++ {
			per[i%workers] += min(nb, left)
			left -= nb
		}
		return slices.Max(per)
	}
	for _, c := range []struct{ n, most, least, workers, want int }{
		{192, 15, 1, 2, 12}, // 13 chunks of 15 would give one thread 102 images
		{384, 37, 1, 2, 32},
		{384, 9, 1, 2, 8},
		{192, 7, 7, 2, 7}, // the floor holds
		{192, 3, 7, 2, 7}, // a floor above the bound wins
		{192, 15, 1, 1, 15},
		{10, 15, 1, 2, 5},
		{1, 15, 1, 4, 1},
	} {
		got := evenChunk(c.n, c.most, c.least, c.workers)
		if got != c.want {
			t.Errorf("evenChunk(%d, %d, %d, %d) = %d, want %d", c.n, c.most, c.least, c.workers, got, c.want)
		}
	}
	for n := 1; n <= 200; n++ {
		for _, workers := range []int{1, 2, 3, 8} {
			for most := 1; most <= 40; most += 3 {
				got := evenChunk(n, most, 1, workers)
				if got < 1 || got > max(1, min(most, n)) {
					t.Fatalf("evenChunk(%d, %d, 1, %d) = %d, out of range", n, most, workers, got)
				}
				for nb := got + 1; nb <= min(most, n); nb++ {
					if load(n, nb, workers) <= load(n, got, workers) {
						t.Fatalf("evenChunk(%d, %d, 1, %d) = %d (load %d), but %d gives %d",
							n, most, workers, got, load(n, got, workers), nb, load(n, nb, workers))
					}
				}
				for nb := 1; nb < got; nb++ {
					if load(n, nb, workers) < load(n, got, workers) {
						t.Fatalf("evenChunk(%d, %d, 1, %d) = %d (load %d), but %d gives %d",
							n, most, workers, got, load(n, got, workers), nb, load(n, nb, workers))
					}
				}
			}
		}
	}
}
