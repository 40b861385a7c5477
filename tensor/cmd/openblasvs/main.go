//go:build openblas && cgo

// Command openblasvs times tensor.Sgemm against OpenBLAS's cblas_sgemm in
// one process, on the shapes of the side-by-side anchor script
// (bench/gemm.py): square sizes, the rotating-MNIST and Sprites encoder
// convolutions as im2col GEMMs and two linear layers. It links the system
// OpenBLAS through cgo, so it is built only with the openblas tag (Debian:
// libopenblas-dev):
//
//	OPENBLAS_CORETYPE=SkylakeX go run -tags openblas ./tensor/cmd/openblasvs -threads 1,2
//
// OpenBLAS 0.3.21 does not know every recent CPU and then falls back to a
// generic kernel (it prints the one it chose); OPENBLAS_CORETYPE picks one.
//
// On one thread the two libraries' calls alternate one by one, so that
// machine noise reaches both alike. On more threads OpenBLAS's threads
// spin for a while after each call and would take the cores from halo's,
// so each library runs a block of calls, halo's after a pause, each block
// after one untimed call that wakes the library's threads. Only halo's
// block then starts from idle CPUs, whose first milliseconds run slow on a
// virtual machine; -pause-both pauses before OpenBLAS's block as well. The
// table gives the median and best GFLOP/s of each and halo's throughput
// over OpenBLAS's (above 1: halo is faster).
package main

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
void openblas_set_num_threads(int);
char *openblas_get_corename(void);
char *openblas_get_config(void);
*/
import "C"

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/halo-ml/halo/asm"
	"github.com/halo-ml/halo/internal/gemmshapes"
	"github.com/halo-ml/halo/tensor"
)

func main() {
	threadList := flag.String("threads", "1,2", "comma-separated thread counts")
	reps := flag.Int("reps", 20, "calls of each library per shape (a quarter of that for products over 4 GFLOP)")
	maxGflop := flag.Float64("max-gflop", 50, "cap on one product's work: conv shapes use fewer frames (as gemm.py)")
	only := flag.String("shapes", "", "regular expression selecting shapes by name")
	pause := flag.Duration("pause", 300*time.Millisecond, "pause before halo's block when several threads run")
	both := flag.Bool("pause-both", false, "pause before OpenBLAS's block too, so that both libraries' blocks start from idle")
	flag.Parse()
	var threads []int
	for _, f := range strings.Split(*threadList, ",") {
		t, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || t < 1 {
			fmt.Fprintf(os.Stderr, "openblasvs: bad thread count %q in -threads\n", f)
			os.Exit(2)
		}
		threads = append(threads, t)
	}
	sel, err := regexp.Compile(*only)
	if err != nil {
		fmt.Fprintf(os.Stderr, "openblasvs: -shapes: %v\n", err)
		os.Exit(2)
	}
	fmt.Printf("OpenBLAS: %s; kernel %s\n", C.GoString(C.openblas_get_config()), C.GoString(C.openblas_get_corename()))
	fmt.Printf("halo: kernels %s\n\n", asm.Impl())
	fmt.Println("| threads | shape | M | N | K | OpenBLAS median / best | halo median / best | halo / OpenBLAS median, best |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, t := range threads {
		runtime.GOMAXPROCS(t)
		C.openblas_set_num_threads(C.int(t))
		for _, s := range gemmshapes.List(*maxGflop) {
			if !sel.MatchString(s.Name) {
				continue
			}
			compare(s, t, *reps, *pause, *both)
		}
	}
}

func compare(s gemmshapes.Shape, threads, reps int, pause time.Duration, pauseBoth bool) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b := random(r, s.M*s.K), random(r, s.K*s.N)
	cOB, cHalo := make([]float32, s.M*s.N), make([]float32, s.M*s.N)
	openblas := func() {
		C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasNoTrans, C.blasint(s.M), C.blasint(s.N), C.blasint(s.K),
			1, (*C.float)(&a[0]), C.blasint(s.K), (*C.float)(&b[0]), C.blasint(s.N), 0, (*C.float)(&cOB[0]), C.blasint(s.N))
	}
	halo := func() { tensor.Sgemm(false, false, s.M, s.N, s.K, 1, a, s.K, b, s.N, 0, cHalo, s.N) }
	openblas()
	halo()
	if d := relDiff(cHalo, cOB); d > 1e-4 {
		fmt.Fprintf(os.Stderr, "openblasvs: %s: halo and OpenBLAS differ (relative %.2g)\n", s.Name, d)
		os.Exit(1)
	}
	if float64(s.M)*float64(s.N)*float64(s.K) > 2e9 {
		reps = max(4, reps/4)
	}
	timed := func(f func(), into *[]float64) {
		start := time.Now()
		f()
		*into = append(*into, time.Since(start).Seconds())
	}
	var tOB, tHalo []float64
	if threads == 1 {
		for i := range reps {
			if i%2 == 0 {
				timed(openblas, &tOB)
				timed(halo, &tHalo)
			} else {
				timed(halo, &tHalo)
				timed(openblas, &tOB)
			}
		}
	} else {
		// Each block starts with an untimed call, which wakes the
		// library's threads: the times are of calls made back to back, as
		// a training loop makes them.
		const block = 4
		for range max(2, reps/block) {
			if pauseBoth {
				time.Sleep(pause)
			}
			openblas()
			for range block {
				timed(openblas, &tOB)
			}
			time.Sleep(pause)
			halo()
			for range block {
				timed(halo, &tHalo)
			}
		}
	}
	slices.Sort(tOB)
	slices.Sort(tHalo)
	gf := 2 * float64(s.M) * float64(s.N) * float64(s.K) / 1e9
	medOB, medHalo := tOB[len(tOB)/2], tHalo[len(tHalo)/2]
	fmt.Printf("| %d | %s | %d | %d | %d | %.1f / %.1f | %.1f / %.1f | %.2f, %.2f |\n", threads, s.Name, s.M, s.N, s.K,
		gf/medOB, gf/tOB[0], gf/medHalo, gf/tHalo[0], medOB/medHalo, tOB[0]/tHalo[0])
}

func random(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32() - 0.5
	}
	return s
}

// relDiff is |x - y| / |y| in the Frobenius norm.
func relDiff(x, y []float32) float64 {
	var d, n float64
	for i := range x {
		e := float64(x[i]) - float64(y[i])
		d += e * e
		n += float64(y[i]) * float64(y[i])
	}
	return math.Sqrt(d / n)
}
