package tensor

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunPartsRunsEachPartOnce(t *testing.T) {
	for parts := range 10 {
		counts := make([]atomic.Int32, parts)
		runParts(parts, func(p int) { counts[p].Add(1) })
		for p := range counts {
			if n := counts[p].Load(); n != 1 {
				t.Fatalf("runParts(%d): part %d ran %d times", parts, p, n)
			}
		}
	}
}

// TestRunPartsConcurrentAndNested has several goroutines use runParts at
// once, each part calling it again: the calls that find the workers busy
// start goroutines, and every part of every call runs once.
func TestRunPartsConcurrentAndNested(t *testing.T) {
	const callers, outer, inner = 4, 3, 5
	var total atomic.Int32
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range 20 {
				runParts(outer, func(int) {
					runParts(inner, func(int) { total.Add(1) })
				})
			}
		})
	}
	wg.Wait()
	if got, want := total.Load(), int32(callers*20*outer*inner); got != want {
		t.Fatalf("%d parts ran, want %d", got, want)
	}
}

// BenchmarkRunParts times two parts of about 50 µs of work each, on the
// persistent workers ("workers") and with a goroutine started for the
// second part as the code did before ("goroutine"). The difference per
// call is the cost of waking a thread, which runParts avoids.
func BenchmarkRunParts(b *testing.B) {
	work := func(int) {
		start := time.Now()
		for time.Since(start) < 50*time.Microsecond {
		}
	}
	b.Run("workers", func(b *testing.B) {
		for range b.N {
			runParts(2, work)
		}
	})
	b.Run("goroutine", func(b *testing.B) {
		for range b.N {
			var wg sync.WaitGroup
			wg.Go(func() { work(1) })
			work(0)
			wg.Wait()
		}
	})
}

// TestJobClaimsEachPartOnce runs one job's parts from several goroutines
// at once, as the caller and the workers do, some of them starting after
// all parts are taken: every part runs once, and the job counts them down.
func TestJobClaimsEachPartOnce(t *testing.T) {
	for parts := 1; parts <= 9; parts++ {
		counts := make([]atomic.Int32, parts)
		j := &job{f: func(p int) { counts[p].Add(1) }, parts: int32(parts), cpu: -1}
		j.left.Store(int32(parts))
		j.done.Add(parts)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(j.work)
		}
		wg.Wait()
		j.work() // late: finds nothing left
		j.done.Wait()
		if n := j.left.Load(); n != 0 {
			t.Fatalf("%d parts: %d left unfinished", parts, n)
		}
		for p := range counts {
			if n := counts[p].Load(); n != 1 {
				t.Fatalf("%d parts: part %d ran %d times", parts, p, n)
			}
		}
	}
}
