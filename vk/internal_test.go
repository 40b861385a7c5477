//go:build cgo && linux

package vk

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	vkb "github.com/vulkan-go/vulkan"

	"github.com/halo-ml/halo/tensor"
	"github.com/halo-ml/halo/tensor/backendtest"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// TestConformanceStaging reruns the suite with every transfer going
// through staging and readback buffers, the path of discrete GPUs, which
// lavapipe's host-visible memory would otherwise skip.
func TestConformanceStaging(t *testing.T) {
	b := testBackend(t)
	b.forceStaging = true
	defer func() { b.forceStaging = false }()
	backendtest.Run(t, b)
}

// TestGemmVariants covers what the suite's odd offsets do not reach: the
// vectorised variants (offsets and leading dimensions multiples of 4),
// the three tilings, and batches, against the CPU backend.
func TestGemmVariants(t *testing.T) {
	b := testBackend(t)
	r := rand.New(rand.NewPCG(11, 12))
	type shape struct{ m, n, k, batch, pad int }
	for _, s := range []shape{{4, 8, 4, 1, 0}, {67, 130, 37, 3, 4}, {33, 29, 70, 2, 3}, {520, 516, 24, 1, 0}, {130, 70, 65, 1, 1},
		{2048, 2048, 4, 1, 0}, {2049, 2047, 3, 1, 1}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				g := tensor.GemmArgs{TransA: ta, TransB: tb, M: s.m, N: s.n, K: s.k, Alpha: 0.75, Beta: -0.5, Batch: s.batch}
				ar, ac := s.m, s.k
				if ta {
					ar, ac = s.k, s.m
				}
				br, bc := s.k, s.n
				if tb {
					br, bc = s.n, s.k
				}
				g.Lda, g.Ldb, g.Ldc = ac+s.pad, bc+s.pad, s.n+s.pad
				g.OffA, g.OffB, g.OffC = 4*s.pad, 8*s.pad, s.pad
				g.StrideA, g.StrideB, g.StrideC = ar*g.Lda+4*s.pad, br*g.Ldb, s.m*g.Ldc+s.pad
				av := randSlice(r, g.OffA+s.batch*g.StrideA)
				bv := randSlice(r, g.OffB+s.batch*g.StrideB)
				cv := randSlice(r, g.OffC+s.batch*g.StrideC)
				want := append([]float32(nil), cv...)
				tensor.CPU().Gemm(g, tensor.HostBuffer(av), tensor.HostBuffer(bv), tensor.HostBuffer(want))
				a, bb, c := b.Alloc(len(av)), b.Alloc(len(bv)), b.Alloc(len(cv))
				b.Upload(a, 0, av)
				b.Upload(bb, 0, bv)
				b.Upload(c, 0, cv)
				b.Gemm(g, a, bb, c)
				got := make([]float32, len(cv))
				b.Download(got, c, 0)
				tol := 4e-6 * math.Sqrt(float64(s.k)+1)
				for i := range got {
					if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("%+v: C[%d] = %g, CPU %g", g, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestSequenceReplay records a small pass once and replays it on new
// inputs: the replay must compute with the values uploaded since.
func TestSequenceReplay(t *testing.T) {
	b := testBackend(t)
	r := rand.New(rand.NewPCG(13, 14))
	const m, k, n = 9, 13, 11
	a, w, y, z := b.Alloc(m*k), b.Alloc(k*n), b.Alloc(m*n), b.Alloc(m*n)
	g := tensor.GemmArgs{M: m, N: n, K: k, Alpha: 1, Lda: k, Ldb: n, Ldc: n}
	seq, err := b.Record(func() {
		b.Gemm(g, a, w, y)
		b.Map(tensor.MapTanh, 0, y, z)
	})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		av, wv := randSlice(r, m*k), randSlice(r, k*n)
		b.Upload(a, 0, av)
		b.Upload(w, 0, wv)
		seq.Run()
		want := make([]float32, m*n)
		tensor.CPU().Gemm(g, tensor.HostBuffer(av), tensor.HostBuffer(wv), tensor.HostBuffer(want))
		tensor.CPU().Map(tensor.MapTanh, 0, tensor.HostBuffer(want), tensor.HostBuffer(want))
		got := make([]float32, m*n)
		b.Download(got, z, 0)
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Fatalf("round %d: z[%d] = %g, want %g", round, i, got[i], want[i])
			}
		}
	}
	if _, err := b.Record(func() { b.Upload(a, 0, []float32{1}) }); err == nil {
		t.Fatal("Upload inside Record was accepted")
	}
}

// TestBlockAllocator checks first-fit sub-allocation and the merging of
// freed neighbours in every order, on a block without device memory.
func TestBlockAllocator(t *testing.T) {
	for _, order := range [][3]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}, {0, 2, 1}, {1, 2, 0}} {
		p := &pool{}
		blk := &block{size: 1 << 20, free: []span{{0, 1 << 20}}}
		var offs [3]int64
		for i := range offs {
			off, ok := blk.take(4096)
			if !ok || off != int64(i)*4096 {
				t.Fatalf("take %d: offset %d, %v", i, off, ok)
			}
			offs[i] = off
		}
		for _, i := range order {
			p.release(blk, offs[i], 4096)
		}
		if len(blk.free) != 1 || blk.free[0] != (span{0, 1 << 20}) {
			t.Fatalf("freeing in order %v left %v, want one range", order, blk.free)
		}
	}
	blk := &block{size: 16384, free: []span{{0, 16384}}}
	a, _ := blk.take(4096)
	blk.take(4096)
	(&pool{}).release(blk, a, 4096)
	if off, ok := blk.take(8192); !ok || off != 8192 {
		t.Fatalf("8192 bytes went to %d, %v; want the free tail at 8192", off, ok)
	}
	if off, ok := blk.take(4096); !ok || off != 0 {
		t.Fatalf("4096 bytes went to %d, %v; want the freed head", off, ok)
	}
	if _, ok := blk.take(256); ok {
		t.Fatal("a full block handed out more")
	}
}

// TestPoolLarge checks that a buffer larger than a pool block gets a block
// of its own, and that buffers the program drops return to the pool
// through the garbage collector.
func TestPoolLarge(t *testing.T) {
	b := testBackend(t)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	big := b.allocRaw(chunkBytes/4 + 1)
	if big.blk.size < chunkBytes+4 {
		t.Fatalf("a buffer of %d bytes got a block of %d", chunkBytes+4, big.blk.size)
	}
	v := make([]float32, big.n)
	for i := range v {
		v[i] = float32(i % 1001)
	}
	// Directly, and through staging and readback buffers in pieces.
	for _, staging := range []bool{false, true} {
		b.forceStaging = staging
		b.Upload(big, 0, v)
		got := make([]float32, big.n)
		b.Download(got, big, 0)
		b.forceStaging = false
		for i := range got {
			if got[i] != v[i] {
				t.Fatalf("staging %v: value %d of a large buffer came back as %g, want %g", staging, i, got[i], v[i])
			}
		}
	}
	big.free()
	// Buffers the program drops go back through the garbage collector.
	inUse := func() int64 { b.pool.mu.Lock(); defer b.pool.mu.Unlock(); return b.pool.inUse }
	before := inUse()
	for range 10 {
		b.Alloc(1 << 16)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		runtime.GC()
		if inUse() <= before {
			return
		}
	}
	t.Fatalf("pool holds %d bytes after dropped buffers were collected, %d before", inUse(), before)
}

func TestCollapse(t *testing.T) {
	for _, c := range []struct {
		shape   []int
		strides [][]int
		want    []int
		wantSt  [][]int
	}{
		{[]int{4, 5, 6}, [][]int{{30, 6, 1}, {30, 6, 1}}, []int{120}, [][]int{{1}, {1}}},
		{[]int{4, 5, 6}, [][]int{{30, 6, 1}, {0, 1, 0}}, []int{4, 5, 6}, [][]int{{30, 6, 1}, {0, 1, 0}}},
		{[]int{3, 1, 7}, [][]int{{7, 7, 1}, {0, 0, 1}}, []int{3, 7}, [][]int{{7, 1}, {0, 1}}},
		{[]int{2, 3, 4}, [][]int{{12, 4, 1}, {0, 0, 1}}, []int{6, 4}, [][]int{{4, 1}, {0, 1}}},
		{[]int{1, 1}, [][]int{{1, 1}}, nil, [][]int{nil}},
	} {
		got, st := collapse(c.shape, c.strides...)
		if !reflect.DeepEqual(got, c.want) || !reflect.DeepEqual(st, c.wantSt) {
			t.Errorf("collapse(%v, %v) = %v, %v; want %v, %v", c.shape, c.strides, got, st, c.want, c.wantSt)
		}
	}
}

func TestGrid(t *testing.T) {
	b := &Backend{d: &device{limits: Limits{MaxWorkgroupCount: [3]int{100, 50, 10}}}}
	for _, c := range []struct{ n, x, y int }{{0, 0, 0}, {1, 1, 1}, {100, 100, 1}, {101, 100, 2}, {5000, 100, 50}} {
		x, y := b.grid(c.n)
		if x != c.x || y != c.y || (c.n > 0 && x*y < c.n) {
			t.Errorf("grid(%d) = %d, %d; want %d, %d", c.n, x, y, c.x, c.y)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("grid(5001) past the device's limits did not panic")
		}
	}()
	b.grid(5001)
}

// TestForeignBuffer: a buffer of another backend is a programming error
// with a message, not a crash inside the driver.
func TestForeignBuffer(t *testing.T) {
	b := testBackend(t)
	defer func() {
		if r := recover(); r == nil || fmt.Sprint(r) == "" {
			t.Fatal("a foreign buffer was accepted")
		}
	}()
	b.Map(tensor.MapNeg, 0, fakeBuffer{}, b.Alloc(1))
}

type fakeBuffer struct{}

func (fakeBuffer) Len() int { return 1 }

// TestMissingLoader: without the loader library the error says so, and
// the process's binding is left untouched.
func TestMissingLoader(t *testing.T) {
	_, err := openLoader("libvulkan-absent.so.1")
	if err == nil || !strings.Contains(err.Error(), "no Vulkan loader") {
		t.Fatalf("opening an absent loader: %v", err)
	}
	_, err = openLoader("libc.so.6")
	if err == nil || !strings.Contains(err.Error(), "no vkGetInstanceProcAddr") {
		t.Fatalf("opening a library that is not a loader: %v", err)
	}
}

// TestChoose covers device choice without devices of every kind.
func TestChoose(t *testing.T) {
	in := &instance{infos: []DeviceInfo{
		{Index: 0, Name: "llvmpipe (LLVM 15)", Type: "cpu"}, {Index: 1, Name: "Intel Arc", Type: "integrated"}, {Index: 2, Name: "NVIDIA H200", Type: "discrete"}}}
	for _, c := range []struct {
		want string
		idx  int
		err  string
	}{
		{"", 2, ""}, {"0", 0, ""}, {"llvmpipe", 0, ""}, {"arc", 1, ""}, {"7", -1, "no such device"}, {"amd", -1, "matches no device"},
	} {
		i, err := in.choose(c.want)
		if i != c.idx || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("choose(%q) = %d, %v; want %d, %q", c.want, i, err, c.idx, c.err)
		}
	}
	in.infos = in.infos[:2]
	if i, _ := in.choose(""); i != 1 {
		t.Errorf("without a discrete GPU chose %d, want the integrated one", i)
	}
	in.infos = in.infos[:1]
	if _, err := in.choose(""); err == nil || !strings.Contains(err.Error(), "only when named") {
		t.Errorf("with only a CPU implementation: %v", err)
	}
	in.infos = nil
	if _, err := in.choose(""); err == nil {
		t.Error("no devices: no error")
	}
}

func TestTileFor(t *testing.T) {
	tt := chooseGemmTiles(Limits{MaxWorkgroupInvocations: 1024, MaxSharedMemory: 48 << 10})
	for _, c := range []struct {
		m, n, batch int
		want        gemmTile
	}{
		{2048, 2048, 1, tt.huge}, {1024, 1024, 1, tt.large}, {1024, 1024, 4, tt.huge}, {100, 100, 1, tt.small}, {512, 512, 1, tt.large},
	} {
		if got := tt.tileFor(c.m, c.n, c.batch); got != c.want {
			t.Errorf("tileFor(%d, %d, %d) = %+v, want %+v", c.m, c.n, c.batch, got, c.want)
		}
	}
	for _, l := range []Limits{{MaxWorkgroupInvocations: 128, MaxSharedMemory: 16 << 10}, {MaxWorkgroupInvocations: 256, MaxSharedMemory: 32 << 10}} {
		tt := chooseGemmTiles(l)
		for _, g := range []gemmTile{tt.huge, tt.large, tt.small} {
			if g.wg > l.MaxWorkgroupInvocations || g.shared() > l.MaxSharedMemory || (g.bm/g.tm)*(g.bn/g.tn) != g.wg || g.bk%4 != 0 {
				t.Errorf("limits %+v: tile %+v does not fit or does not cover its workgroup", l, g)
			}
		}
	}
}

// TestPushConstantBlocks reads every embedded kernel's push-constant block
// size from its SPIR-V; dispatch checks the Go side against these.
func TestPushConstantBlocks(t *testing.T) {
	want := map[string]int{"map": 16, "map_backward": 24, "binary": 92, "reduce_thread": 48, "reduce_group": 48,
		"im2col": 64, "col2im": 64, "adam": 52, "copy": 88, "batchnorm_stats": 60, "batchnorm_apply": 60,
		"batchnorm_bstats": 60, "batchnorm_bapply": 60, "gemm_nn": 60, "gemm_tt_vec4": 60}
	entries, err := spvFS.ReadDir("spv")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		raw, err := spvFS.ReadFile("spv/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		n, err := pushConstantBytes(raw)
		if err != nil || n == 0 || n > pushBytes {
			t.Errorf("%s: push-constant block of %d bytes, %v", e.Name(), n, err)
		}
		if w, ok := want[strings.TrimSuffix(e.Name(), ".spv")]; ok && n != w {
			t.Errorf("%s: push-constant block of %d bytes, want %d", e.Name(), n, w)
		}
	}
	if _, err := pushConstantBytes([]byte("not spir-v")); err == nil {
		t.Error("garbage parsed as SPIR-V")
	}
}

// TestFree: a freed buffer's range is reused only after the work that
// used it, and using a freed buffer panics.
func TestFree(t *testing.T) {
	b := testBackend(t)
	x := b.alloc(1000)
	b.Upload(x, 0, make([]float32, 1000))
	y := b.alloc(1000)
	b.Map(tensor.MapAddScalar, 1, x, y) // pending while Free runs
	b.Free(x)
	if x.freed {
		t.Fatal("freed while a kernel using it was pending")
	}
	got := make([]float32, 1000)
	b.Download(got, y, 0)
	if got[999] != 1 || !x.freed {
		t.Fatalf("y[999] = %g, x freed %v after the wait", got[999], x.freed)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a freed buffer was accepted")
		}
	}()
	b.Map(tensor.MapNeg, 0, x, y)
}

// TestConcurrentUse: goroutines sharing the backend (as tensor.Open's
// callers do) get their own results.
func TestConcurrentUse(t *testing.T) {
	b := testBackend(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			x := b.Alloc(5000)
			v := make([]float32, 5000)
			for i := range v {
				v[i] = float32(w*10000 + i)
			}
			for range 20 {
				b.Upload(x, 0, v)
				b.Map(tensor.MapScale, 2, x, x)
				got := make([]float32, 5000)
				b.Download(got, x, 0)
				for i := range got {
					if got[i] != 2*v[i] {
						errs <- fmt.Errorf("worker %d: value %d = %g, want %g", w, i, got[i], 2*v[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCopy checks the strided copy against its definition: a permutation,
// a slice, a concatenation into a larger buffer, a broadcast, an empty one.
func TestCopy(t *testing.T) {
	b := testBackend(t)
	r := rand.New(rand.NewPCG(15, 16))
	src := randSlice(r, 2*3*4*5+7)
	cases := []struct {
		name           string
		shape          []int
		srcOff, dstOff int
		srcSt, dstSt   []int
		dstLen         int
	}{
		{"permute [2 3 4 5] -> [5 2 4 3]", []int{2, 3, 4, 5}, 0, 0, []int{60, 20, 5, 1}, []int{12, 1, 3, 24}, 120},
		{"slice rows 1..2 of [3 40]", []int{2, 40}, 40, 0, []int{40, 1}, []int{40, 1}, 80},
		{"into columns 3..8 of [4 11]", []int{4, 5}, 7, 3, []int{5, 1}, []int{11, 1}, 44},
		{"broadcast a row 6 times", []int{6, 9}, 2, 1, []int{0, 1}, []int{9, 1}, 55},
		{"empty", []int{3, 0, 2}, 0, 0, []int{1, 1, 1}, []int{1, 1, 1}, 4},
	}
	for _, c := range cases {
		want := randSlice(r, c.dstLen)
		got := make([]float32, c.dstLen)
		copy(got, want)
		idx := make([]int, len(c.shape))
		for flat := range numel(c.shape) {
			rest, so, do := flat, c.srcOff, c.dstOff
			for d := len(c.shape) - 1; d >= 0; d-- {
				idx[d] = rest % c.shape[d]
				rest /= c.shape[d]
				so += idx[d] * c.srcSt[d]
				do += idx[d] * c.dstSt[d]
			}
			want[do] = src[so]
		}
		sb, db := b.Alloc(len(src)), b.Alloc(c.dstLen)
		b.Upload(sb, 0, src)
		b.Upload(db, 0, got)
		b.Copy(db, c.dstOff, c.dstSt, sb, c.srcOff, c.srcSt, c.shape)
		b.Download(got, db, 0)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: value %d = %g, want %g", c.name, i, got[i], want[i])
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a copy past the end of its destination was accepted")
		}
	}()
	b.Copy(b.Alloc(10), 5, []int{1}, b.Alloc(10), 0, []int{1}, []int{6})
}

func TestPickMemory(t *testing.T) {
	var props vkb.PhysicalDeviceMemoryProperties
	// A discrete GPU with a BAR window: host memory, device memory, device
	// memory the host can map, and cached host memory.
	flags := []vkb.MemoryPropertyFlags{memHostVisible | memHostCoherent, memDeviceLocal,
		memDeviceLocal | memHostVisible | memHostCoherent, memHostVisible | memHostCoherent | memHostCached}
	props.MemoryTypeCount = uint32(len(flags))
	for i, f := range flags {
		props.MemoryTypes[i].PropertyFlags = f
	}
	for _, c := range []struct {
		name string
		bits uint32
		rank []memPref
		want int
	}{
		{"storage", 0xf, rankStorage, 1},
		{"storage, shared memory", 0xf, rankStorageShared, 2},
		{"staging", 0xf, rankStaging, 0},
		{"readback", 0xf, rankReadback, 3},
		{"readback without cached memory", 0x7, rankReadback, 0},
		{"storage without plain device memory", 0xd, rankStorage, 2},
		{"nothing allowed", 0, rankStorage, -1},
	} {
		if got := pickMemory(&props, c.bits, c.rank); got != c.want {
			t.Errorf("%s: type %d, want %d", c.name, got, c.want)
		}
	}
}

// TestCollectionsDuringCalls runs pipeline creation, descriptor writes,
// staged copies and submits while another goroutine allocates garbage fast
// enough to keep the collector running. The binding frees the C copies of
// some arguments from a finalizer at the next collection, so a collection
// during one of these calls used to hand the driver freed memory (random
// pipeline flags or empty SPIR-V under the validation layer, which fails
// the package, or a crash). The results must match the CPU's.
func TestCollectionsDuringCalls(t *testing.T) {
	b := testBackend(t)
	b.forceStaging = true
	defer func() { b.forceStaging = false }()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sink []byte
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				sink = make([]byte, 1<<20)
			}
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
		_ = sink
	}()
	r := rand.New(rand.NewPCG(21, 22))
	for i := range 40 {
		// Shapes that change the GEMM's tiling and specialization make new
		// pipelines; fresh buffers make new descriptor sets.
		m, n, k := 3+i%7*9, 5+i%5*13, 1+i%11*7
		g := tensor.GemmArgs{M: m, N: n, K: k, Alpha: 1, Lda: k, Ldb: n, Ldc: n, Batch: 1,
			StrideA: m * k, StrideB: k * n, StrideC: m * n, TransB: i%2 == 1}
		if g.TransB {
			g.Ldb = k
		}
		av, bv := randSlice(r, m*k), randSlice(r, k*n)
		want := make([]float32, m*n)
		tensor.CPU().Gemm(g, tensor.HostBuffer(av), tensor.HostBuffer(bv), tensor.HostBuffer(want))
		a, bb, c := b.Alloc(len(av)), b.Alloc(len(bv)), b.Alloc(m*n)
		b.Upload(a, 0, av)
		b.Upload(bb, 0, bv)
		b.Gemm(g, a, bb, c)
		got := make([]float32, m*n)
		b.Download(got, c, 0)
		for j := range got {
			if d := math.Abs(float64(got[j] - want[j])); d > 1e-4*(1+math.Abs(float64(want[j]))) {
				t.Fatalf("%+v: C[%d] = %g, CPU %g", g, j, got[j], want[j])
			}
		}
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
}
