package halo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/halo-ml/halo/tensor"
)

// DemoConfig is the small balls model the demo trains in about two minutes
// on two cores: the balls preset with fully connected encoder and decoder
// (family mlp, no BatchNorm before the output), sequences of 8 frames (one
// revolution), a large learning rate cut twice (by 0.3 at steps 700 and
// 1400) to sharpen the last steps, a small initial posterior variance
// and weak KL terms on q and p (the demo shows dynamics, not a calibrated
// prior), both reconstruction terms, and operators that start as bounded
// rotations.
func DemoConfig() Config {
	c, _ := Preset("balls")
	c.Family, c.FCHidden, c.HDim, c.NoOutputBN = "mlp", 256, 64, true
	c.T, c.Batch, c.TestBatch = 8, 16, 50
	c.LR = 4e-3
	c.BetaV, c.LossVRecon = 0.01, true
	c.LogVarBias, c.OperatorInit = -6, "elliptic"
	c.Epochs, c.MaxSteps = 0, 1800
	c.LRDecay, c.LRDecaySteps = 0.3, 700
	c.Init = "default"
	return c
}

// DemoOptions control RunDemo.
type DemoOptions struct {
	Dir      string    // output folder (created)
	Config   *Config   // nil: DemoConfig()
	Progress io.Writer // training progress and the summary; nil: silent
	Terminal bool
	// Sequences is the number of test sequences the checks run on (0: 40).
	Sequences int
}

// DemoReport holds the demo's measurements.
type DemoReport struct {
	Dir          string  `json:"dir"`
	Steps        int     `json:"steps"`
	TrainSeconds float64 `json:"train_seconds"`
	// ReconMSE and GenMSE are per-pixel errors on [0, 1] over the test
	// sequences: reconstruction, and generation of the training length from
	// frame 0.
	ReconMSE float64 `json:"recon_mse"`
	GenMSE   float64 `json:"gen_mse"`
	// OrbitError is the largest |distance of the ball's centroid from the
	// image centre - the true orbit radius| in pixels over every frame of
	// the long generations (LongFrames from frame 0).
	OrbitError float64 `json:"orbit_error_px"`
	LongFrames int     `json:"long_frames"`
	// SwapAccuracy is the fraction of colour swaps (the content of one
	// sequence with the motion of one of the other colour) that show the
	// content donor's colour.
	SwapAccuracy float64 `json:"swap_accuracy"`
	SwapPairs    int     `json:"swap_pairs"`
	// EnergyDrift is the largest relative change of the latent energy along
	// the long generated trajectories.
	EnergyDrift float64  `json:"energy_drift"`
	Files       []string `json:"files"`
}

// BallCentroid returns the centroid (x, y) of a frame [C, H, W] on [0, 1] in
// continuous pixel coordinates (pixel (i, j) has its centre at (j+0.5,
// i+0.5)), weighting each pixel by its summed channels above a floor of
// 0.1, so faint decoder haze does not pull the centroid to the middle. The
// weight is zero for an empty frame.
func BallCentroid(frame []float32, c, h, w int) (x, y, weight float64) {
	var sx, sy, sw float64
	for i := range h {
		for j := range w {
			var v float64
			for ch := range c {
				v += float64(frame[(ch*h+i)*w+j])
			}
			v -= 0.1
			if v <= 0 {
				continue
			}
			sx += v * (float64(j) + 0.5)
			sy += v * (float64(i) + 0.5)
			sw += v
		}
	}
	if sw == 0 {
		return 0, 0, 0
	}
	return sx / sw, sy / sw, sw
}

// DominantChannel returns the channel with the largest total over frames
// [T, C, H, W].
func DominantChannel(seq []float32, d Dims) int {
	tot := make([]float64, d.C)
	hw := d.H * d.W
	for t := range d.T {
		for c := range d.C {
			for _, v := range seq[(t*d.C+c)*hw : (t*d.C+c+1)*hw] {
				tot[c] += float64(v)
			}
		}
	}
	best := 0
	for c := range tot {
		if tot[c] > tot[best] {
			best = c
		}
	}
	return best
}

// RunDemo generates the balls data, trains the demo model and writes into
// opt.Dir: reconstructions, generations from one frame (the training length
// and four times it), colour swaps (GIFs and PNG grids), the latent energy
// along a generated trajectory (SVG) and report.json with the checks.
func RunDemo(ctx context.Context, opt DemoOptions) (*DemoReport, error) {
	cfg := DemoConfig()
	if opt.Config != nil {
		cfg = *opt.Config
	}
	if opt.Sequences == 0 {
		opt.Sequences = 40
	}
	if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("halo: demo: %w", err)
	}
	say := func(format string, a ...any) {
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, format+"\n", a...)
		}
	}
	// The balls protocol's splits (seeds 1 and 2), rendered with T frames
	// per revolution of the orbit.
	ds := &Dataset{Name: "balls", Scale: Unit, Factors: []string{"colour", "orbit_radius"},
		Train: GenerateBalls(BallsConfig{N: 1000, Seed: 1, T: cfg.T}),
		Test:  GenerateBalls(BallsConfig{N: 200, Seed: 2, T: cfg.T})}
	say("data: balls, %d training and %d test sequences of %s", ds.Train.Len(), ds.Test.Len(), ds.Train.Dims())
	tr, err := NewTrainer(cfg, ds)
	if err != nil {
		return nil, err
	}
	say("model: %d parameters, %s dynamics, K=%d d=%d, z=%d; training %d steps of %d sequences",
		tr.Model.NumParams(), cfg.Dynamics, cfg.Operators, cfg.D, cfg.ZDim, tr.TotalSteps(), cfg.Batch)
	t0 := time.Now()
	if _, err := tr.Train(ctx, TrainOptions{Dir: filepath.Join(opt.Dir, "run"), Progress: opt.Progress,
		Terminal: opt.Terminal, LogEvery: 5 * time.Second}); err != nil {
		return nil, err
	}
	rep := &DemoReport{Dir: opt.Dir, Steps: tr.Step, TrainSeconds: time.Since(t0).Seconds()}
	m := tr.Model

	// Test sequences, on [0, 1] and on the model's scale.
	n := min(opt.Sequences, ds.Test.Len())
	d := ds.Test.Dims()
	unit := make([][]float32, n)
	x := tensor.New(n, d.T, d.C, d.H, d.W)
	labels := make([]Label, n)
	for i := range n {
		unit[i] = make([]float32, d.Len())
		if err := ds.Test.Read(i, unit[i]); err != nil {
			return nil, err
		}
		labels[i] = ds.Test.Label(i)
		copy(x.Data()[i*d.Len():], unit[i])
	}
	scale := cfg.Scale()
	scale.FromUnit(x.Data())
	toUnit := func(t *tensor.Tensor, steps int) [][]float32 {
		v := append([]float32(nil), t.Data()...)
		scale.ToUnit(v)
		out := make([][]float32, t.Dim(0))
		l := steps * d.FrameLen()
		for i := range out {
			out[i] = v[i*l : (i+1)*l]
		}
		return out
	}
	write := func(name string, f func(path string) error) error {
		p := filepath.Join(opt.Dir, name)
		if err := f(p); err != nil {
			return err
		}
		rep.Files = append(rep.Files, name)
		return nil
	}
	show := min(n, 8)
	grid := GridOptions{Zoom: 2}
	pair := func(a, b [][]float32) [][]float32 {
		var s [][]float32
		for i := range show {
			s = append(s, a[i], b[i])
		}
		return s
	}

	// Reconstruction.
	rec, err := m.Reconstruct(x, nil)
	if err != nil {
		return nil, err
	}
	recU := toUnit(rec, d.T)
	for i := range n {
		rep.ReconMSE += MSE(recU[i], unit[i]) / float64(n)
	}
	if err := write("reconstruction.png", func(p string) error { return WriteGridPNG(p, pair(unit, recU), d, grid) }); err != nil {
		return nil, err
	}
	if err := write("reconstruction.gif", func(p string) error { return WriteGIF(p, pair(unit, recU), d, grid, 12) }); err != nil {
		return nil, err
	}

	// Generation from frame 0: the training length, and four times it.
	first := tensor.New(n, d.C, d.H, d.W)
	for i := range n {
		copy(first.Data()[i*d.FrameLen():], x.Data()[i*d.Len():i*d.Len()+d.FrameLen()])
	}
	gen, err := m.Generate(first, nil, d.T)
	if err != nil {
		return nil, err
	}
	genU := toUnit(gen.Frames, d.T)
	for i := range n {
		rep.GenMSE += MSE(genU[i], unit[i]) / float64(n)
	}
	if err := write("generation.png", func(p string) error { return WriteGridPNG(p, pair(unit, genU), d, grid) }); err != nil {
		return nil, err
	}
	if err := write("generation.gif", func(p string) error { return WriteGIF(p, pair(unit, genU), d, grid, 12) }); err != nil {
		return nil, err
	}
	rep.LongFrames = 4 * d.T
	long, err := m.Generate(first, nil, rep.LongFrames)
	if err != nil {
		return nil, err
	}
	dl := Dims{T: rep.LongFrames, C: d.C, H: d.H, W: d.W}
	longU := toUnit(long.Frames, rep.LongFrames)
	for i := range n {
		radius := 9.0
		if len(labels[i].Factors) > 1 {
			radius = float64(labels[i].Factors[1])
		}
		for t := range rep.LongFrames {
			cx, cy, w := BallCentroid(longU[i][t*d.FrameLen():(t+1)*d.FrameLen()], d.C, d.H, d.W)
			errPx := float64(d.W) // no ball drawn: as bad as can be
			if w > 0 {
				errPx = math.Abs(math.Hypot(cx-float64(d.W)/2, cy-float64(d.H)/2) - radius)
			}
			rep.OrbitError = max(rep.OrbitError, errPx)
		}
		for k := range m.Cfg.Operators {
			if e, err := m.EnergyAlong(long.Exact[i], k); err == nil {
				rep.EnergyDrift = max(rep.EnergyDrift, e.Drift())
			}
		}
	}
	if err := write("long_horizon.gif", func(p string) error { return WriteGIF(p, longU[:show], dl, grid, 8) }); err != nil {
		return nil, err
	}
	if err := write("long_horizon.png", func(p string) error { return WriteGridPNG(p, longU[:min(show, 4)], dl, GridOptions{}) }); err != nil {
		return nil, err
	}

	// Colour swap: the content (colour) of one sequence with the motion of
	// one of the other colour.
	var red, blue []int
	for i := range n {
		if labels[i].Factors[0] == BallRed {
			red = append(red, i)
		} else {
			blue = append(blue, i)
		}
	}
	pairs := min(len(red), len(blue))
	if pairs > 0 {
		a := tensor.New(2*pairs, d.T, d.C, d.H, d.W) // content donors
		b := tensor.New(2*pairs, d.T, d.C, d.H, d.W) // motion donors
		donor := make([]int, 2*pairs)
		for p := range pairs {
			for s, ij := range [][2]int{{red[p], blue[p]}, {blue[p], red[p]}} {
				r := 2*p + s
				copy(a.Data()[r*d.Len():(r+1)*d.Len()], x.Data()[ij[0]*d.Len():(ij[0]+1)*d.Len()])
				copy(b.Data()[r*d.Len():(r+1)*d.Len()], x.Data()[ij[1]*d.Len():(ij[1]+1)*d.Len()])
				donor[r] = ij[0]
			}
		}
		sw, err := m.Swap(a, b, nil, nil)
		if err != nil {
			return nil, err
		}
		swU := toUnit(sw, d.T)
		ok := 0
		for r := range swU {
			if DominantChannel(swU[r], d) == DominantChannel(unit[donor[r]], d) {
				ok++
			}
		}
		rep.SwapPairs = len(swU)
		rep.SwapAccuracy = float64(ok) / float64(len(swU))
		aU, bU := toUnit(a, d.T), toUnit(b, d.T)
		var rows [][]float32
		for r := range min(len(swU), 6) {
			rows = append(rows, aU[r], bU[r], swU[r])
		}
		if err := write("colour_swap.png", func(p string) error { return WriteGridPNG(p, rows, d, grid) }); err != nil {
			return nil, err
		}
		if err := write("colour_swap.gif", func(p string) error { return WriteGIF(p, rows, d, GridOptions{Zoom: 2, Columns: 3}, 12) }); err != nil {
			return nil, err
		}
	}

	// The energy along the first long trajectory.
	if e, err := m.EnergyAlong(long.Exact[0], 0); err == nil {
		if err := write("energy.svg", func(p string) error {
			return EnergyPlot(e.Kinetic, e.Potential, e.NonSeparable, e.Total).WriteSVGFile(p)
		}); err != nil {
			return nil, err
		}
	}
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := write("report.json", func(p string) error { return writeFileAtomic(p, append(raw, '\n')) }); err != nil {
		return nil, err
	}
	return rep, nil
}
