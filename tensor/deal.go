package tensor

import (
	"iter"
	"sync"
	"sync/atomic"
)

// dealPause, set by tests, runs before each chunk with the goroutine's
// index and the chunk's, to vary which goroutine takes which chunk.
var dealPause func(w, i int)

// dealChunks runs work on up to workers goroutines, w being the
// goroutine's index, and hands every chunk in [0, count) to exactly one of
// them through its chunks: a goroutine takes the next chunk nobody has
// taken when it is done with its last, so a CPU that the host runs slower
// for a while, or a worker that starts late, does fewer chunks rather than
// hold up the call (dealt in a fixed pattern, two threads' shares of a
// layer's chunks took up to 1.25x one another's time). work sets up its
// scratch space once and ranges over chunks. It suits work whose result
// does not depend on which goroutine ran a chunk.
func dealChunks(workers, count int, work func(w int, chunks iter.Seq[int])) {
	workers = max(1, min(workers, count))
	var next atomic.Int64
	runParts(workers, func(w int) {
		work(w, func(yield func(int) bool) {
			for {
				i := int(next.Add(1) - 1)
				if i >= count {
					return
				}
				if dealPause != nil {
					dealPause(w, i)
				}
				if !yield(i) {
					return
				}
			}
		})
	})
}

// sumSlots is how many sums dealSums should keep for a call of workers
// goroutines and count chunks: one more than the goroutines, so that one
// that finishes a chunk finds a sum nobody holds, or one for a single
// goroutine.
func sumSlots(workers, count int) int {
	workers = max(1, min(workers, count))
	if workers == 1 {
		return 1
	}
	return min(workers+1, count)
}

// dealSums is dealChunks for chunks that each add into one of sums
// partial sums: chunk i adds into sum i%sums, and the chunks of a sum run
// one at a time in increasing order. Each sum then comes out the same,
// bit for bit, whichever goroutine ran which chunk and however fast, and so
// does any reduction of the sums in a fixed order. work's chunks yield a
// chunk with its sum. A goroutine done with a chunk takes the next chunk of
// the sum nobody holds that has the most left, so that the sums drain
// together; it stops when every sum with chunks left is held by another,
// which then finishes it.
func dealSums(workers, sums, count int, work func(w int, chunks iter.Seq2[int, int])) {
	workers = max(1, min(workers, count))
	sums = max(1, min(sums, count))
	var mu sync.Mutex
	next := make([]int, sums) // the next chunk of sum s is s + next[s]*sums
	held := make([]bool, sums)
	release := func(s int) {
		mu.Lock()
		held[s] = false
		next[s]++
		mu.Unlock()
	}
	// take claims the sum nobody holds with the most chunks left: it
	// returns the sum and its next chunk, or -1.
	take := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		best, left := -1, 0
		for s := range sums {
			if l := (count-s+sums-1)/sums - next[s]; !held[s] && l > left {
				best, left = s, l
			}
		}
		if best < 0 {
			return -1, 0
		}
		held[best] = true
		return best, best + next[best]*sums
	}
	runParts(workers, func(w int) {
		work(w, func(yield func(int, int) bool) {
			for s, i := take(); s >= 0; s, i = take() {
				if dealPause != nil {
					dealPause(w, i)
				}
				more := yield(s, i)
				release(s)
				if !more {
					return
				}
			}
		})
	})
}

// evenChunk returns the items per chunk, between least and most (least
// when it is the larger), for which the goroutine with the most items has
// the fewest, n items being dealt in turn in chunks to workers goroutines:
// the largest such. A chunk count that workers does not divide leaves one
// goroutine a chunk more than another at the end; sprites enc.conv5's
// weight gradient in 13 chunks of 15 images gave one thread 102 images to
// the other's 90.
func evenChunk(n, most, least, workers int) int {
	n, workers = max(1, n), max(1, workers)
	least = max(1, min(least, n))
	most = max(least, min(most, n))
	best, bestLoad := most, 2*n
	for nb := most; nb >= least; nb-- {
		chunks := (n + nb - 1) / nb
		each := (chunks + workers - 1) / workers // the chunks of the first goroutine
		load := each * nb
		if (chunks-1)%workers == 0 { // it also takes the last, short one
			load = (each-1)*nb + n - (chunks-1)*nb
		}
		if load < bestLoad {
			best, bestLoad = nb, load
		}
	}
	return best
}
