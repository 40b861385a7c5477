// Command vkbench measures a compute backend and prints JSON: GEMM GFLOP/s
// for square sizes, the convolution layers of the Sprites preset (im2col or
// col2im plus GEMM, forward and backward, with the tensors on the device),
// and the time of a full Sprites training step.
//
//	vkbench -backend vulkan                  # the GPU chosen as vk's doc says
//	HALO_VK_DEVICE=llvmpipe vkbench -sizes 256,512 -frames 1 -layers 'encoder.0$|decoder.16' -train=false
//
// Today a training step runs the tape on host tensors: the backend gets
// tensor.HostBuffer operands and copies them to the device and back around
// every kernel, and convolutions run on the CPU. The step time shows that
// path's cost until tensors stay on the device.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/halo-ml/halo/halo"
	"github.com/halo-ml/halo/layers"
	"github.com/halo-ml/halo/tensor"
	_ "github.com/halo-ml/halo/vk" // registers "vulkan"
)

type gemmResult struct {
	N       int     `json:"n"`
	Reps    int     `json:"reps,omitempty"`
	Ms      float64 `json:"ms_per_gemm,omitempty"`
	GFLOPS  float64 `json:"gflops,omitempty"`
	Skipped string  `json:"skipped,omitempty"`
}

type convResult struct {
	Layer      string  `json:"layer"`
	Geometry   string  `json:"geometry"`
	Frames     int     `json:"frames"`
	ForwardMs  float64 `json:"forward_ms"`
	BackwardMs float64 `json:"backward_ms"`
	GFLOPS     float64 `json:"gflops"`
}

type stepResult struct {
	Batch   int     `json:"batch"`
	Frames  int     `json:"frames_per_sequence"`
	Steps   int     `json:"steps"`
	Ms      float64 `json:"ms_per_step,omitempty"`
	Loss    float64 `json:"last_loss,omitempty"`
	Up      int64   `json:"bytes_up_per_step,omitempty"`
	Down    int64   `json:"bytes_down_per_step,omitempty"`
	Note    string  `json:"note"`
	Skipped string  `json:"skipped,omitempty"`
}

type report struct {
	Backend     string       `json:"backend"`
	Note        string       `json:"note"`
	Gemm        []gemmResult `json:"gemm"`
	SpritesConv []convResult `json:"sprites_conv,omitempty"`
	SpritesStep *stepResult  `json:"sprites_train_step,omitempty"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vkbench:", err)
		os.Exit(1)
	}
}

func run() error {
	backend := flag.String("backend", "vulkan", "backend to measure: vulkan, cpu or auto")
	sizes := flag.String("sizes", "1024,2048,4096,8192", "square GEMM sizes")
	budget := flag.Duration("budget", 60*time.Second, "skip a GEMM size whose predicted time exceeds this")
	frames := flag.Int("frames", 0, "frames per convolution benchmark (0: the preset's batch x sequence length)")
	conv := flag.Bool("conv", true, "benchmark the Sprites convolution layers")
	only := flag.String("layers", "", "benchmark only the convolution layers whose name matches this regular expression")
	train := flag.Bool("train", true, "time a full Sprites training step")
	steps := flag.Int("steps", 2, "training steps to time (after one warm-up step)")
	flag.Parse()

	be, note, err := tensor.Open(*backend)
	if err != nil {
		return err
	}
	rep := report{Backend: be.Name(), Note: note}
	var prev time.Duration
	prevN := 0
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("bad size %q", f)
		}
		if prevN > 0 {
			r := float64(n) / float64(prevN)
			if est := time.Duration(float64(prev) * r * r * r * 4); est > *budget {
				rep.Gemm = append(rep.Gemm, gemmResult{N: n, Skipped: fmt.Sprintf("predicted %v for 4 products, over the %v budget", est.Round(time.Second), *budget)})
				continue
			}
		}
		res, per, err := benchGemm(be, n)
		if err != nil {
			return err
		}
		rep.Gemm = append(rep.Gemm, res)
		fmt.Fprintf(os.Stderr, "vkbench: gemm %d: %.1f GFLOP/s\n", n, res.GFLOPS)
		prev, prevN = per, n
	}
	c, err := halo.Preset("sprites")
	if err != nil {
		return err
	}
	c.Init = "default" // orthogonal initialisation of the large layers takes minutes and changes no timing
	if *conv {
		nf := *frames
		if nf <= 0 {
			nf = c.Batch * c.T
		}
		re, err := regexp.Compile(*only)
		if err != nil {
			return fmt.Errorf("-layers: %w", err)
		}
		res, err := benchConvs(be, c, nf, re)
		if err != nil {
			return err
		}
		rep.SpritesConv = res
	}
	if *train {
		res, err := benchStep(be, c, *steps)
		if err != nil {
			return err
		}
		rep.SpritesStep = res
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func randBuf(be tensor.Backend, r *rand.Rand, n int) tensor.Buffer {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	b := be.Alloc(n)
	be.Upload(b, 0, v)
	return b
}

func benchGemm(be tensor.Backend, n int) (gemmResult, time.Duration, error) {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	a, b, c := randBuf(be, r, n*n), randBuf(be, r, n*n), be.Alloc(n*n)
	g := tensor.GemmArgs{M: n, N: n, K: n, Alpha: 1, Lda: n, Ldb: n, Ldc: n}
	be.Gemm(g, a, b, c) // warm-up: pipelines, memory
	if err := be.Sync(); err != nil {
		return gemmResult{}, 0, err
	}
	reps := 0
	start := time.Now()
	for reps < 3 || (time.Since(start) < time.Second && reps < 100) {
		be.Gemm(g, a, b, c)
		if err := be.Sync(); err != nil {
			return gemmResult{}, 0, err
		}
		reps++
	}
	per := time.Since(start) / time.Duration(reps)
	flops := 2 * float64(n) * float64(n) * float64(n)
	return gemmResult{N: n, Reps: reps, Ms: ms(per), GFLOPS: flops / per.Seconds() / 1e9}, per, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pick(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

type namedGeom struct {
	name string
	g    tensor.ConvGeom
}

// spritesConvs walks the preset's encoder and decoder and returns the
// geometry of every (transposed) convolution for frames images.
func spritesConvs(c halo.Config, frames int) ([]namedGeom, error) {
	m, err := halo.NewModel(c, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		return nil, err
	}
	var out []namedGeom
	ch, h, w := c.C, c.H, c.W
	for i, l := range m.Encoder.Layers {
		cv, ok := l.(*layers.Conv2d)
		if !ok {
			continue
		}
		s := cv.Weight.Shape() // [Cout Cin KH KW]
		g := tensor.ConvGeom{N: frames, C: ch, H: h, W: w, OutC: s[0], KH: s[2], KW: s[3],
			StrideH: pick(cv.P.Stride[0], 1), StrideW: pick(cv.P.Stride[1], 1), PadH: cv.P.Padding[0], PadW: cv.P.Padding[1],
			DilH: pick(cv.P.Dilation[0], 1), DilW: pick(cv.P.Dilation[1], 1)}
		out = append(out, namedGeom{fmt.Sprintf("encoder.%d", i), g})
		ch, h, w = s[0], g.OutH(), g.OutW()
	}
	ch, h, w = 0, 0, 0
	for i, l := range m.Decoder.Layers {
		switch v := l.(type) {
		case layers.Unflatten:
			ch, h, w = v.Shape[0], v.Shape[1], v.Shape[2]
		case *layers.ConvTranspose2d:
			s := v.Weight.Shape() // [Cin Cout KH KW]
			g := tensor.ConvGeom{N: frames, C: ch, H: h, W: w, OutC: s[1], KH: s[2], KW: s[3],
				StrideH: pick(v.P.Stride[0], 1), StrideW: pick(v.P.Stride[1], 1), PadH: v.P.Padding[0], PadW: v.P.Padding[1],
				DilH: pick(v.P.Dilation[0], 1), DilW: pick(v.P.Dilation[1], 1),
				OutPadH: v.P.OutputPadding[0], OutPadW: v.P.OutputPadding[1], Transposed: true}
			out = append(out, namedGeom{fmt.Sprintf("decoder.%d", i), g})
			ch, h, w = s[1], g.OutH(), g.OutW()
		}
	}
	return out, nil
}

// maxColValues bounds the column matrix of one chunk of images (256 MiB).
const maxColValues = 64 << 20

// benchConvs times each layer as the backend would run it with resident
// tensors: per chunk of images, forward = im2col + GEMM (convolution) or
// GEMM + col2im (transposed), backward = the weight-gradient GEMM, the
// input-gradient GEMM and col2im or im2col.
func benchConvs(be tensor.Backend, c halo.Config, frames int, only *regexp.Regexp) ([]convResult, error) {
	geoms, err := spritesConvs(c, frames)
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(3, 3))
	var res []convResult
	for _, ng := range geoms {
		if !only.MatchString(ng.name) {
			continue
		}
		g := ng.g
		perImage := g
		perImage.N = 1
		chunk := max(1, min(frames, maxColValues/max(1, perImage.ColRows()*perImage.ColCols())))
		cg := g
		cg.N = chunk
		rows, cols := cg.ColRows(), cg.ColCols()
		colSideC := g.OutC // channels of the column side
		if g.Transposed {
			colSideC = g.C
		}
		wt := randBuf(be, r, colSideC*rows)
		img := randBuf(be, r, numel(cg.ImageShape()))
		side := randBuf(be, r, colSideC*cols)
		col := be.Alloc(rows * cols)
		dw := be.Alloc(colSideC * rows)
		fwd := func() {
			if !g.Transposed {
				be.Im2col(cg, img, col)
				be.Gemm(tensor.GemmArgs{M: colSideC, N: cols, K: rows, Alpha: 1, Lda: rows, Ldb: cols, Ldc: cols}, wt, col, side)
			} else {
				be.Gemm(tensor.GemmArgs{TransA: true, M: rows, N: cols, K: colSideC, Alpha: 1, Lda: rows, Ldb: cols, Ldc: cols}, wt, side, col)
				be.Col2im(cg, col, img)
			}
		}
		bwd := func() {
			if !g.Transposed {
				be.Gemm(tensor.GemmArgs{TransB: true, M: colSideC, N: rows, K: cols, Alpha: 1, Beta: 1, Lda: cols, Ldb: cols, Ldc: rows}, side, col, dw)
				be.Gemm(tensor.GemmArgs{TransA: true, M: rows, N: cols, K: colSideC, Alpha: 1, Lda: rows, Ldb: cols, Ldc: cols}, wt, side, col)
				be.Col2im(cg, col, img)
			} else {
				be.Im2col(cg, img, col)
				be.Gemm(tensor.GemmArgs{TransB: true, M: colSideC, N: rows, K: cols, Alpha: 1, Beta: 1, Lda: cols, Ldb: cols, Ldc: rows}, side, col, dw)
				be.Gemm(tensor.GemmArgs{M: colSideC, N: cols, K: rows, Alpha: 1, Lda: rows, Ldb: cols, Ldc: cols}, wt, col, side)
			}
		}
		chunks := (frames + chunk - 1) / chunk
		timeIt := func(f func()) (time.Duration, error) {
			f() // warm-up
			if err := be.Sync(); err != nil {
				return 0, err
			}
			start := time.Now()
			for range chunks {
				f()
			}
			err := be.Sync()
			return time.Since(start), err
		}
		tf, err := timeIt(fwd)
		if err != nil {
			return nil, err
		}
		tb, err := timeIt(bwd)
		if err != nil {
			return nil, err
		}
		flops := 2 * float64(colSideC) * float64(rows) * float64(cols) * float64(chunks) * 3
		fmt.Fprintf(os.Stderr, "vkbench: %s %v: forward %v, backward %v\n", ng.name, g, tf.Round(time.Millisecond), tb.Round(time.Millisecond))
		res = append(res, convResult{Layer: ng.name, Geometry: g.String(), Frames: chunks * chunk,
			ForwardMs: ms(tf), BackwardMs: ms(tb), GFLOPS: flops / (tf + tb).Seconds() / 1e9})
	}
	return res, nil
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// benchStep times training steps of the Sprites model with the tape on be:
// loss, backward, and Adam on be for every parameter, the tensors resident
// on the device, as halo.Trainer runs them.
func benchStep(be tensor.Backend, c halo.Config, steps int) (*stepResult, error) {
	res := &stepResult{Batch: c.Batch, Frames: c.T, Steps: steps,
		Note: "tensors resident on the device: the host reads back the loss terms and the small host ops' operands"}
	m, err := halo.NewModel(c, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(4, 4))
	x := tensor.New(c.Batch, c.T, c.C, c.H, c.W)
	for i := range x.Data() {
		x.Data()[i] = r.Float32()
	}
	tp := tensor.NewTapeOn(be)
	tp.SetRecycle(true)
	opt := layers.NewAdam(layers.Trainable(m), c.LR)
	opt.Beta1, opt.Beta2, opt.Backend = c.Beta1, c.Beta2, be
	var loss float64
	one := func() error {
		layers.ZeroGrad(m)
		l, terms, err := m.Loss(tp, halo.LossInput{X: x, Start: 1, Noise: halo.RandNoise{Rng: r}})
		if err != nil {
			return err
		}
		tp.Backward(l)
		opt.Step()
		loss = terms.Total
		return be.Sync()
	}
	type counter interface{ Transfers() (up, down int64) }
	cnt, _ := be.(counter)
	if err := one(); err != nil {
		return nil, err
	}
	var up0, down0 int64
	if cnt != nil {
		up0, down0 = cnt.Transfers()
	}
	start := time.Now()
	for range steps {
		if err := one(); err != nil {
			return nil, err
		}
	}
	if steps > 0 {
		res.Ms = ms(time.Since(start) / time.Duration(steps))
		if cnt != nil {
			up, down := cnt.Transfers()
			res.Up, res.Down = (up-up0)/int64(steps), (down-down0)/int64(steps)
		}
	}
	res.Loss = loss
	return res, nil
}
