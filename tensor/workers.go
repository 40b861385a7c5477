package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// workerSpin is how long an idle worker keeps polling for its next job
// before it blocks. A goroutine started per call, or a worker woken from a
// blocked receive, waits for the runtime to wake an idle thread, which on a
// virtual machine took 30-140 µs (BenchmarkRunParts): longer than a whole
// 256^3 product on two threads. Polling keeps a worker's thread awake
// between the calls of a layer, as OpenMP and OpenBLAS threads spin
// before they sleep; the cost is up to this much CPU time after each call.
const workerSpin = 200 * time.Microsecond

// job is one runParts call: its parts go to whichever goroutine claims
// them first, so a worker that is slow to start costs no more than doing
// its part on the caller.
type job struct {
	f     func(p int)
	parts int32
	cpu   int32        // the caller's CPU, or -1
	next  atomic.Int32 // the next unclaimed part
	left  atomic.Int32 // parts not yet finished
	done  sync.WaitGroup
}

// work runs parts of j until none is left unclaimed.
func (j *job) work() {
	for {
		p := j.next.Add(1) - 1
		if p >= j.parts {
			return
		}
		j.f(int(p))
		j.left.Add(-1)
		j.done.Done()
	}
}

// worker is one persistent helper goroutine; it receives jobs on its
// channel.
type worker struct{ work chan *job }

// callerCPU is the CPU of the last runParts caller, or -1: polling
// workers move off it (leaveCPU), and so does a worker given a job.
var callerCPU atomic.Int32

var workers struct {
	sync.Mutex // held by the one call using the workers
	list       []*worker
}

func (w *worker) loop() {
	for {
		var j *job
		select {
		case j = <-w.work:
		default:
			j = w.poll()
		}
		leaveCPU(j.cpu)
		j.work()
	}
}

// poll waits for the next job, polling for workerSpin before blocking.
func (w *worker) poll() *job {
	deadline := time.Now().Add(workerSpin)
	for i := 0; ; i++ {
		select {
		case j := <-w.work:
			return j
		default:
		}
		if i%64 == 63 {
			if time.Now().After(deadline) {
				return <-w.work
			}
			leaveCPU(callerCPU.Load())
			runtime.Gosched() // let other goroutines of this thread run
		}
	}
}

// runParts calls f(0), ..., f(parts-1), in parallel, and returns when all
// are done. The calling goroutine and parts-1 persistent workers claim the
// parts in turn; which goroutine runs a part is not fixed, and a part a
// worker was too slow to take runs on the caller. A call made
// while another is using the workers (from another goroutine, or from
// inside a part) starts goroutines instead.
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
		w := &worker{work: make(chan *job, 1)}
		workers.list = append(workers.list, w)
		go w.loop()
	}
	j := &job{f: f, parts: int32(parts), cpu: currentCPU()}
	callerCPU.Store(j.cpu)
	j.left.Store(int32(parts))
	j.done.Add(parts)
	for _, w := range workers.list[:parts-1] {
		// A worker may not yet have taken the last call's job, whose parts
		// the others finished. Only the holder of workers sends, so after
		// the drain the send does not block.
		select {
		case <-w.work:
		default:
		}
		w.work <- j
	}
	j.work()
	// Poll for the others for a while too, rather than block at once and
	// wait to be woken.
	deadline := time.Now().Add(workerSpin)
	for i := 0; j.left.Load() > 0; i++ {
		if i%64 == 63 {
			if time.Now().After(deadline) {
				break
			}
			runtime.Gosched()
		}
	}
	j.done.Wait()
}
