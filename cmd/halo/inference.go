package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/halo-ml/halo/halo"
	"github.com/halo-ml/halo/tensor"
)

func init() {
	register("eval", "score generation from one frame on a test split (MSE, PSNR, SSIM)", runEval)
	register("generate", "generate sequences from the first frames of test sequences, or from the prior", runGenerate)
	register("swap", "swap content and motion between two test sequences", runSwap)
	register("energy", "plot the energy of each operator along a generated trajectory", runEnergy)
}

// runFlags are the flags of the commands that use a trained model.
type runFlags struct {
	run, preset, dataDir, split *string
}

func addRunFlags(fs *flag.FlagSet) runFlags {
	return runFlags{
		run:     fs.String("run", "", "run folder (or checkpoint file) of a trained model (required)"),
		preset:  fs.String("preset", "", "refuse the checkpoint unless it is of this preset"),
		dataDir: fs.String("data-dir", "", "data folder, if not the one the run was trained with"),
		split:   fs.String("split", "test", "split to draw sequences from"),
	}
}

// parseAndLoad parses the command's flags, then opens its run (see load).
func (f runFlags) parseAndLoad(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (*halo.Model, *halo.Dataset, halo.Split, error) {
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return nil, nil, nil, err
	}
	return f.load()
}

// load opens the checkpoint and the data set of its config.
func (f runFlags) load() (*halo.Model, *halo.Dataset, halo.Split, error) {
	if *f.run == "" {
		return nil, nil, nil, errors.New("-run is required")
	}
	ck, err := halo.LoadCheckpoint(*f.run)
	if err != nil {
		return nil, nil, nil, err
	}
	if *f.preset != "" && ck.Cfg.Preset != *f.preset {
		return nil, nil, nil, fmt.Errorf("%s holds a model of preset %q, not %q", *f.run, ck.Cfg.Preset, *f.preset)
	}
	cfg := ck.Cfg
	if *f.dataDir != "" {
		cfg.DataDir = *f.dataDir
	}
	ds, err := halo.OpenDataset(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	var names []string
	for _, s := range ds.Splits() {
		if s.Name == *f.split {
			return ck.Model, ds, s.Split, nil
		}
		names = append(names, s.Name)
	}
	ds.Close()
	return nil, nil, nil, fmt.Errorf("data set %s has no split %q (have %s)", ds.Name, *f.split, strings.Join(names, ", "))
}

// readSeqs reads sequences idx of s onto the model's scale: [N, T, C, H, W],
// their actions and their [0, 1] copies.
func readSeqs(m *halo.Model, s halo.Split, idx []int) (*tensor.Tensor, []int, [][]float32, error) {
	d := s.Dims()
	x := tensor.New(len(idx), d.T, d.C, d.H, d.W)
	acts := make([]int, len(idx))
	unit := make([][]float32, len(idx))
	for k, i := range idx {
		if i < 0 || i >= s.Len() {
			return nil, nil, nil, fmt.Errorf("sequence %d outside the split's [0, %d)", i, s.Len())
		}
		unit[k] = make([]float32, d.Len())
		if err := s.Read(i, unit[k]); err != nil {
			return nil, nil, nil, err
		}
		copy(x.Data()[k*d.Len():], unit[k])
		acts[k] = s.Label(i).Motion
	}
	m.Cfg.Scale().FromUnit(x.Data())
	if !m.Cfg.Conditional {
		acts = nil
	}
	return x, acts, unit, nil
}

func toUnitSeqs(m *halo.Model, t *tensor.Tensor) [][]float32 {
	v := append([]float32(nil), t.Data()...)
	m.Cfg.Scale().ToUnit(v)
	n := t.Dim(0)
	l := len(v) / n
	out := make([][]float32, n)
	for i := range out {
		out[i] = v[i*l : (i+1)*l]
	}
	return out
}

func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// printEval scores generation as PROTOCOLS.md section 5 (and, for rotating
// MNIST, the MSE at frame 3 given frame 0 on the protocol's test digits).
func printEval(w io.Writer, m *halo.Model, ds *halo.Dataset, limit int) error {
	frames, index := max(16, m.Cfg.T), 0
	splits := []halo.NamedSplit{{Name: "test", Split: ds.Test}}
	if ds.Name == "rmnist" {
		frames, index = m.Cfg.T, 3
		if h, ok := ds.Extra["heldout"]; ok {
			splits = append(splits, halo.NamedSplit{Name: "heldout", Split: h})
		}
	}
	for _, s := range splits {
		rep, err := m.EvalGeneration(s.Name, s.Split, frames, index, limit, 32)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: %d sequences, %d frames from frame 0: MSE %s  PSNR %s  SSIM %s\n", s.Name, rep.Sequences, rep.Frames,
			rep.All.MSE, rep.All.PSNR, rep.All.SSIM)
		fmt.Fprintf(w, "%s: frames 1..%d: MSE %s  PSNR %s  SSIM %s\n", s.Name, rep.Frames-1, rep.Later.MSE, rep.Later.PSNR, rep.Later.SSIM)
		if index != 0 {
			fmt.Fprintf(w, "%s: MSE at frame %d given frame 0: %s (paper HALO 0.0208, ODE2VAE-KL 0.0184)\n", s.Name, index, rep.AtIndex)
		}
	}
	return nil
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	rf := addRunFlags(fs)
	limit := fs.Int("limit", 0, "score at most this many sequences per split (0: all)")
	out := fs.String("json", "", "also write the full report (per-frame scores) to this JSON file")
	setUsage(fs, "halo eval -run DIR [-limit N] [-json FILE]",
		"Generates every test sequence from its first frame (16 frames, or the training",
		"length if longer; ground truth repeated cyclically) and reports MSE, PSNR and SSIM",
		"on [0, 1] as mean±std over sequences (PROTOCOLS.md section 5). Rotating MNIST also",
		"reports the MSE at frame 3 given frame 0 (section 2).",
	)
	m, ds, s, err := rf.parseAndLoad(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	defer ds.Close()
	if *out != "" {
		frames, index := max(16, m.Cfg.T), 0
		if ds.Name == "rmnist" {
			frames, index = m.Cfg.T, 3
		}
		rep, err := m.EvalGeneration(*rf.split, s, frames, index, *limit, 32)
		if err != nil {
			return err
		}
		if err := writeJSON(*out, rep); err != nil {
			return err
		}
	}
	return printEval(stdout, m, ds, *limit)
}

func parseIndices(s string) ([]int, error) {
	var idx []int
	for _, f := range strings.Split(s, ",") {
		var i int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &i); err != nil {
			return nil, fmt.Errorf("sequence list %q: %v", s, err)
		}
		idx = append(idx, i)
	}
	return idx, nil
}

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	rf := addRunFlags(fs)
	seqs := fs.String("seqs", "0,1,2,3", "comma-separated sequence indices of the split")
	frames := fs.Int("frames", 0, "frames to generate (0: 4x the training length)")
	action := fs.Int("action", -1, "conditional models: generate every sequence with this action (-1: each one's own)")
	prior := fs.Bool("prior", false, "sample content and start state from the prior instead of test frames")
	seed := fs.Uint64("seed", 1, "seed for -prior")
	out := fs.String("out", "generated", "output folder")
	setUsage(fs, "halo generate -run DIR [-seqs 0,1,2] [-frames N] [-action K] [-prior] [-out DIR]",
		"Generates sequences from the first frame of test sequences (image-to-sequence) or",
		"from the prior, unrolling the learned operator exactly, and writes generated.gif,",
		"generated.png and generated.npy ([N, frames, C, H, W] on [0, 1]).",
	)
	m, ds, s, err := rf.parseAndLoad(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	defer ds.Close()
	idx, err := parseIndices(*seqs)
	if err != nil {
		return err
	}
	if *frames == 0 {
		*frames = 4 * m.Cfg.T
	}
	if *frames < 1 {
		return fmt.Errorf("-frames %d: must be positive", *frames)
	}
	if *action >= m.Cfg.Operators || *action < -1 {
		return fmt.Errorf("-action %d: the model has %d operators", *action, m.Cfg.Operators)
	}
	x, acts, truth, err := readSeqs(m, s, idx)
	if err != nil {
		return err
	}
	if acts != nil && *action >= 0 {
		for i := range acts {
			acts[i] = *action
		}
	}
	var g *halo.Generated
	if *prior {
		g, err = m.SamplePrior(len(idx), *frames, acts, newRand(*seed))
	} else {
		d := s.Dims()
		first := tensor.New(len(idx), d.C, d.H, d.W)
		for i := range idx {
			copy(first.Data()[i*d.FrameLen():], x.Data()[i*d.Len():i*d.Len()+d.FrameLen()])
		}
		g, err = m.Generate(first, acts, *frames)
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	d := s.Dims()
	dg := halo.Dims{T: *frames, C: d.C, H: d.H, W: d.W}
	gen := toUnitSeqs(m, g.Frames)
	if !*prior {
		if err := halo.WriteGridPNG(filepath.Join(*out, "truth.png"), truth, d, halo.GridOptions{Zoom: 2}); err != nil {
			return err
		}
	}
	if err := halo.WriteGridPNG(filepath.Join(*out, "generated.png"), gen, dg, halo.GridOptions{Zoom: 2}); err != nil {
		return err
	}
	if err := halo.WriteGIF(filepath.Join(*out, "generated.gif"), gen, dg, halo.GridOptions{Zoom: 2}, 10); err != nil {
		return err
	}
	flat := make([]float32, 0, len(gen)*dg.Len())
	for _, v := range gen {
		flat = append(flat, v...)
	}
	if err := tensor.WriteNPY(filepath.Join(*out, "generated.npy"), tensor.NewArray(flat, len(gen), dg.T, dg.C, dg.H, dg.W)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "generated %d sequences of %d frames into %s (generated.gif, generated.png, generated.npy)\n", len(gen), *frames, *out)
	return nil
}

func runSwap(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("swap", flag.ContinueOnError)
	rf := addRunFlags(fs)
	a := fs.Int("a", 0, "first sequence index")
	b := fs.Int("b", 1, "second sequence index")
	out := fs.String("out", "swap", "output folder")
	setUsage(fs, "halo swap -run DIR -a I -b J [-out DIR]",
		"Decodes the content of sequence a with the motion of sequence b and the other way",
		"round; writes swap.png and swap.gif with rows a, b, content(a)+motion(b),",
		"content(b)+motion(a).",
	)
	m, ds, s, err := rf.parseAndLoad(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	defer ds.Close()
	x, acts, unit, err := readSeqs(m, s, []int{*a, *b, *b, *a})
	if err != nil {
		return err
	}
	d := s.Dims()
	n := d.Len()
	xa := tensor.FromSlice(append([]float32(nil), x.Data()[:2*n]...), 2, d.T, d.C, d.H, d.W)
	xb := tensor.FromSlice(append([]float32(nil), x.Data()[2*n:]...), 2, d.T, d.C, d.H, d.W)
	var actA, actB []int
	if acts != nil {
		actA, actB = acts[:2], acts[2:]
	}
	sw, err := m.Swap(xa, xb, actA, actB)
	if err != nil {
		return err
	}
	swU := toUnitSeqs(m, sw)
	rows := [][]float32{unit[0], unit[1], swU[0], swU[1]}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	labels := halo.GridOptions{Zoom: 2}
	if err := halo.WriteGridPNG(filepath.Join(*out, "swap.png"), rows, d, labels); err != nil {
		return err
	}
	if err := halo.WriteGIF(filepath.Join(*out, "swap.gif"), rows, d, labels, 10); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: rows %d, %d, content %d + motion %d, content %d + motion %d\n",
		filepath.Join(*out, "swap.png"), *a, *b, *a, *b, *b, *a)
	return nil
}

func runEnergy(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("energy", flag.ContinueOnError)
	rf := addRunFlags(fs)
	seq := fs.Int("seq", 0, "sequence whose first frame starts the trajectory")
	frames := fs.Int("frames", 0, "trajectory length (0: 4x the training length)")
	out := fs.String("out", "energy", "output folder")
	setUsage(fs, "halo energy -run DIR [-seq I] [-frames N] [-out DIR]",
		"Encodes the first frame of a sequence, unrolls every operator exactly and writes",
		"energy_K.svg (kinetic, potential, non-separable and total energy per frame, as the",
		"paper's appendix Figure 3) and energy.json. Hamiltonian dynamics only.",
	)
	m, ds, s, err := rf.parseAndLoad(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	defer ds.Close()
	if *frames == 0 {
		*frames = 4 * m.Cfg.T
	}
	if *frames < 2 {
		return fmt.Errorf("-frames %d: need at least 2", *frames)
	}
	x, acts, _, err := readSeqs(m, s, []int{*seq})
	if err != nil {
		return err
	}
	d := s.Dims()
	first := tensor.FromSlice(append([]float32(nil), x.Data()[:d.FrameLen()]...), 1, d.C, d.H, d.W)
	g, err := m.Generate(first, acts, *frames)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	all := map[string]halo.Energy{}
	for k := range m.Cfg.Operators {
		if m.Cfg.Conditional && acts[0] != k {
			continue
		}
		e, err := m.EnergyAlong(g.Exact[0], k)
		if err != nil {
			return err
		}
		all[fmt.Sprint(k)] = e
		p := filepath.Join(*out, fmt.Sprintf("energy_%d.svg", k))
		if err := halo.EnergyPlot(e.Kinetic, e.Potential, e.NonSeparable, e.Total).WriteSVGFile(p); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "operator %d: total energy %.6g, relative drift over %d frames %.2g; plot %s\n", k, e.Total[0], *frames, e.Drift(), p)
	}
	return writeJSON(filepath.Join(*out, "energy.json"), all)
}
