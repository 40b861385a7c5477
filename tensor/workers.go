package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// workerSpin is how long an idle worker keeps polling for its next part
// before it blocks. A goroutine started per call, or a worker woken from a
// blocked receive, waits for the runtime to wake an idle thread, which on a
// virtual machine took 30-140 µs (BenchmarkRunParts): longer than a whole
// 256^3 product on two threads. Polling keeps a worker's thread awake
// between the calls of a layer, as OpenMP and OpenBLAS threads spin
// before they sleep; the cost is up to this much CPU time after each call.
const workerSpin = 200 * time.Microsecond

// worker is one persistent helper goroutine; it receives parts on its
// channel.
type worker struct{ work chan workPart }

type workPart struct {
	f    func(p int)
	p    int
	done *sync.WaitGroup
	left *atomic.Int32
}

var workers struct {
	sync.Mutex // held by the one call using the workers
	list       []*worker
}

func (w *worker) loop() {
	for {
		var part workPart
		select {
		case part = <-w.work:
		default:
			part = w.poll()
		}
		part.f(part.p)
		part.left.Add(-1)
		part.done.Done()
	}
}

// poll waits for the next part, polling for workerSpin before blocking.
func (w *worker) poll() workPart {
	deadline := time.Now().Add(workerSpin)
	for i := 0; ; i++ {
		select {
		case part := <-w.work:
			return part
		default:
		}
		if i%64 == 63 {
			if time.Now().After(deadline) {
				return <-w.work
			}
			runtime.Gosched() // let other goroutines of this thread run
		}
	}
}

// runParts calls f(0), ..., f(parts-1), in parallel: part 0 on the calling
// goroutine, the others on persistent workers, and returns when all are
// done. A call made while another is using the workers (from another
// goroutine, or from inside a part) starts goroutines instead.
func runParts(parts int, f func(p int)) {
	if parts <= 1 {
		if parts == 1 {
			f(0)
		}
		return
	}
	if !workers.TryLock() {
		var wg sync.WaitGroup
		for p := 1; p < parts; p++ {
			wg.Go(func() { f(p) })
		}
		f(0)
		wg.Wait()
		return
	}
	defer workers.Unlock()
	for len(workers.list) < parts-1 {
		w := &worker{work: make(chan workPart, 1)}
		workers.list = append(workers.list, w)
		go w.loop()
	}
	var done sync.WaitGroup
	var left atomic.Int32
	done.Add(parts - 1)
	left.Store(int32(parts - 1))
	for p := 1; p < parts; p++ {
		workers.list[p-1].work <- workPart{f: f, p: p, done: &done, left: &left}
	}
	f(0)
	// Poll for the others for a while too, rather than block at once and
	// wait to be woken.
	deadline := time.Now().Add(workerSpin)
	for i := 0; left.Load() > 0; i++ {
		if i%64 == 63 {
			if time.Now().After(deadline) {
				break
			}
			runtime.Gosched()
		}
	}
	done.Wait()
}
