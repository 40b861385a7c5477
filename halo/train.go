package halo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/halo-ml/halo/layers"
	"github.com/halo-ml/halo/tensor"
)

// OpenDataset opens the data set a config names.
func OpenDataset(c Config) (*Dataset, error) {
	var ds *Dataset
	var err error
	switch c.Data {
	case "balls":
		ds = Balls(false)
	case "balls-multi":
		ds = Balls(true)
	case "rmnist":
		ds, err = RotatingMNIST(c.DataDir)
	case "psprites":
		ds = PSprites()
	case "sprites":
		if c.DataDir == "" {
			return nil, errors.New("halo: data sprites needs data_dir, the folder of the Sprites .npy files")
		}
		ds, err = LoadSpritesDataset(c.DataDir)
	case "mug":
		if c.DataDir == "" {
			return nil, errors.New("halo: data mug needs data_dir, the MUG frames folder")
		}
		ds, err = LoadMUG(c.DataDir, MUGConfig{})
	default:
		return nil, fmt.Errorf("halo: unknown data set %q (have balls, balls-multi, rmnist, psprites, sprites, mug)", c.Data)
	}
	if err != nil {
		return nil, err
	}
	if err := CheckFits(c, ds); err != nil {
		ds.Close()
		return nil, err
	}
	return ds, nil
}

// CheckFits reports whether the data set's sequences fit the model.
func CheckFits(c Config, ds *Dataset) error {
	d := ds.Train.Dims()
	if d.C != c.C || d.H != c.H || d.W != c.W || d.T != c.T {
		return fmt.Errorf("halo: data set %s has sequences %s, the model (preset %s) takes %s",
			ds.Name, d, c.Preset, c.Dims())
	}
	return nil
}

// Trainer runs the training loop of a model on a data set.
type Trainer struct {
	Cfg   Config
	Model *Model
	Opt   *layers.Adam
	Data  *Dataset
	// Step is the number of optimiser steps taken so far.
	Step int

	pcg  *rand.PCG // start frames and reparameterisation noise
	rng  *rand.Rand
	tape *tensor.Tape
	be   tensor.Backend
}

// NewTrainer returns a trainer for a fresh model. Its weights come from a
// generator seeded with Seed; the training draws from a second one.
func NewTrainer(c Config, ds *Dataset) (*Trainer, error) {
	if err := CheckFits(c, ds); err != nil {
		return nil, err
	}
	m, err := NewModel(c, rand.New(rand.NewPCG(c.Seed, 0x68616c6f)))
	if err != nil {
		return nil, err
	}
	tr := &Trainer{Cfg: c, Model: m, Data: ds, pcg: rand.NewPCG(c.Seed, 0x747261696e)}
	tr.init()
	return tr, nil
}

// ResumeTrainer continues the run of a checkpoint (a file or a run folder).
// With the same thread count it takes the same steps, bit for bit, as the
// run would have taken without the interruption.
func ResumeTrainer(path string, ds *Dataset) (*Trainer, error) {
	ck, err := LoadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if err := CheckFits(ck.Cfg, ds); err != nil {
		return nil, err
	}
	tr := &Trainer{Cfg: ck.Cfg, Model: ck.Model, Data: ds, Step: ck.Step, pcg: new(rand.PCG)}
	if err := tr.pcg.UnmarshalBinary(ck.RNG); err != nil {
		return nil, err
	}
	tr.init()
	if err := tr.Opt.SetState(ck.Adam); err != nil {
		return nil, fmt.Errorf("halo: checkpoint %s: %w", path, err)
	}
	return tr, nil
}

func (tr *Trainer) init() {
	tr.rng = rand.New(tr.pcg)
	tr.Opt = layers.NewAdam(layers.Trainable(tr.Model), tr.Cfg.LR)
	tr.Opt.Beta1, tr.Opt.Beta2 = tr.Cfg.Beta1, tr.Cfg.Beta2
	tr.SetBackend(tensor.CPU())
}

// SetBackend moves training onto be: the forward and backward passes and
// the optimiser run there, and on a device the weights, gradients and
// optimiser moments stay resident, the host reading back the loss terms.
// Checkpoints and Model's tensors still see current weights: reading a
// tensor's Data downloads it.
func (tr *Trainer) SetBackend(be tensor.Backend) {
	tr.be = be
	tr.tape = tensor.NewTapeOn(be)
	tr.tape.SetRecycle(true)
	tr.Opt.Backend = be
}

// Backend returns the backend training runs on.
func (tr *Trainer) Backend() tensor.Backend { return tr.be }

func (tr *Trainer) loader(s Split, shuffle bool, batch int) *Loader {
	return NewLoader(s, LoaderConfig{BatchSize: batch, Seed: tr.Cfg.Seed, Shuffle: shuffle, DropLast: shuffle, Scale: tr.Cfg.Scale()})
}

// StepsPerEpoch returns the number of optimiser steps in one epoch.
func (tr *Trainer) StepsPerEpoch() int {
	return tr.loader(tr.Data.Train, true, tr.Cfg.Batch).NumBatches()
}

// TotalSteps returns the length of the run: MaxSteps if set, else Epochs
// whole epochs.
func (tr *Trainer) TotalSteps() int {
	if tr.Cfg.MaxSteps > 0 {
		return tr.Cfg.MaxSteps
	}
	return tr.Cfg.Epochs * tr.StepsPerEpoch()
}

func actionsOf(b *Batch) []int {
	a := make([]int, len(b.Labels))
	for i, l := range b.Labels {
		a[i] = l.Motion
	}
	return a
}

// LearningRate returns the rate of the next step under the config's
// schedule (a function of the step alone, so resumed runs follow it).
func (tr *Trainer) LearningRate() float64 {
	c := tr.Cfg
	if c.LRDecaySteps <= 0 {
		return c.LR
	}
	return c.LR * math.Pow(c.LRDecay, float64(tr.Step/c.LRDecaySteps))
}

// TrainStep takes one optimiser step on a batch and returns its loss terms.
// A loss that is not finite is an error naming the step (and, with
// HALO_CHECK_NAN=1, the op that first produced a NaN or an infinity); the
// weights are then left as they were.
func (tr *Trainer) TrainStep(b *Batch) (Terms, error) {
	m := tr.Model
	layers.Train(m)
	layers.ZeroGrad(m)
	tr.Opt.LR = tr.LearningRate()
	start, err := startFrame(tr.rng, b.Mask, b.X.Dim(0), b.X.Dim(1))
	if err != nil {
		return Terms{}, fmt.Errorf("halo: step %d: %w", tr.Step+1, err)
	}
	in := LossInput{X: b.X, Actions: actionsOf(b), FrameMask: b.Mask,
		Start: start, Noise: RandNoise{tr.rng}}
	if !tr.Cfg.Conditional {
		in.Actions = nil
	}
	loss, terms, err := m.Loss(tr.tape, in)
	if err != nil {
		return Terms{}, err
	}
	if math.IsNaN(terms.Total) || math.IsInf(terms.Total, 0) {
		tr.tape.Backward(tensor.New(1)) // release the pass
		where := ""
		if e := tr.tape.NaNError(); e != nil {
			where = " (" + e.Error() + ")"
		}
		return terms, fmt.Errorf("halo: step %d: loss is %g, terms %+v%s", tr.Step+1, terms.Total, terms, where)
	}
	tr.tape.Backward(loss)
	tr.Opt.Step()
	tr.Step++
	return terms, nil
}

// startFrame draws the frame the rollout starts from, uniformly among the
// frames 0..t-2 that every sequence of the batch observes (mask [b*t], nil:
// all). Starting from a missing frame would roll out the encoding of a
// blank image and teach the decoder to draw the mean image from it.
func startFrame(rng *rand.Rand, mask []float32, b, t int) (int, error) {
	if mask == nil {
		return rng.IntN(t - 1), nil
	}
	var seen []int
	for f := range t - 1 {
		all := true
		for i := range b {
			if mask[i*t+f] == 0 {
				all = false
				break
			}
		}
		if all {
			seen = append(seen, f)
		}
	}
	if len(seen) == 0 {
		return 0, fmt.Errorf("no frame before the last is observed in all %d sequences of the batch, so no rollout can start", b)
	}
	return seen[rng.IntN(len(seen))], nil
}

// Evaluate returns the mean loss terms per batch over a split with the
// model in evaluation mode, a fixed start frame (0) and noise from a
// generator seeded with seed, so the number is comparable across epochs and
// training's random stream is untouched.
func (tr *Trainer) Evaluate(s Split, seed uint64) (Terms, error) {
	m := tr.Model
	layers.Eval(m)
	defer layers.Train(m)
	rng := rand.New(rand.NewPCG(seed, 0x76616c))
	var sum Terms
	n := 0
	for b, err := range tr.loader(s, false, tr.Cfg.TestBatch).Batches(0) {
		if err != nil {
			return Terms{}, err
		}
		in := LossInput{X: b.X, Actions: actionsOf(b), FrameMask: b.Mask, Start: 0, Noise: RandNoise{rng}}
		if !tr.Cfg.Conditional {
			in.Actions = nil
		}
		_, t, err := m.Loss(nil, in)
		if err != nil {
			return Terms{}, err
		}
		sum = sum.add(t)
		n++
	}
	if n == 0 {
		return Terms{}, errors.New("halo: evaluate: empty split")
	}
	return sum.scale(1 / float64(n)), nil
}

func (t Terms) add(u Terms) Terms {
	return Terms{t.Recon + u.Recon, t.VRecon + u.VRecon, t.State + u.State, t.KLZ + u.KLZ,
		t.KLQP + u.KLQP, t.Temporal + u.Temporal, t.Total + u.Total}
}

func (t Terms) scale(a float64) Terms {
	return Terms{t.Recon * a, t.VRecon * a, t.State * a, t.KLZ * a, t.KLQP * a, t.Temporal * a, t.Total * a}
}

// String prints the non-zero terms compactly.
func (t Terms) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "loss %.4g", t.Total)
	for _, f := range []struct {
		name string
		v    float64
	}{{"recon", t.Recon}, {"vrecon", t.VRecon}, {"state", t.State}, {"kl_z", t.KLZ}, {"kl_qp", t.KLQP}, {"temporal", t.Temporal}} {
		if f.v != 0 {
			fmt.Fprintf(&b, " %s %.4g", f.name, f.v)
		}
	}
	return b.String()
}

// Checkpoint returns the trainer's state.
func (tr *Trainer) Checkpoint() (*Checkpoint, error) {
	rng, err := tr.pcg.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &Checkpoint{Cfg: tr.Cfg, Step: tr.Step, Model: tr.Model, Adam: tr.Opt.State(), RNG: rng}, nil
}

// TrainOptions control a training run.
type TrainOptions struct {
	// Dir receives the checkpoint, the config, the final weights and
	// metrics.jsonl (one JSON object per logged step and per epoch).
	Dir string
	// Progress receives progress lines; nil prints nothing.
	Progress io.Writer
	// Terminal rewrites one progress line in place (for a terminal);
	// otherwise a plain line is printed every LogEvery.
	Terminal bool
	LogEvery time.Duration // plain-line interval; 0 = 10 s
	// StopAfter returns after this many steps of this call (0: to the end),
	// as an interruption would.
	StopAfter int
	// NoValidation skips the per-epoch validation loss.
	NoValidation bool
}

// Report sums up a finished (or stopped) run.
type Report struct {
	Steps     int     `json:"steps"`
	Seconds   float64 `json:"seconds"`
	FramesSec float64 `json:"frames_per_sec"`
	Last      Terms   `json:"last"`
	Val       *Terms  `json:"val,omitempty"`
}

// Train runs the loop from the trainer's current step to the end of the run
// (or StopAfter steps), logging progress, validating after each epoch and
// writing checkpoints atomically every CheckpointEvery steps, after each
// epoch and at the end. Cancelling ctx stops after the current step with a
// checkpoint.
func (tr *Trainer) Train(ctx context.Context, opt TrainOptions) (Report, error) {
	if opt.Dir == "" {
		return Report{}, errors.New("halo: train: no run folder")
	}
	if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		return Report{}, fmt.Errorf("halo: train: %w", err)
	}
	metrics, err := os.OpenFile(filepath.Join(opt.Dir, "metrics.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return Report{}, fmt.Errorf("halo: train: %w", err)
	}
	defer metrics.Close()
	logJSON := func(v any) {
		b, _ := json.Marshal(v)
		metrics.Write(append(b, '\n'))
	}
	save := func() error {
		ck, err := tr.Checkpoint()
		if err != nil {
			return err
		}
		return SaveCheckpoint(filepath.Join(opt.Dir, CheckpointFile), ck)
	}
	if opt.LogEvery == 0 {
		opt.LogEvery = 10 * time.Second
	}
	ld := tr.loader(tr.Data.Train, true, tr.Cfg.Batch)
	nb := ld.NumBatches()
	if nb == 0 {
		return Report{}, fmt.Errorf("halo: train: %d training sequences make no batch of %d", tr.Data.Train.Len(), tr.Cfg.Batch)
	}
	total := tr.TotalSteps()
	frames := tr.Cfg.Batch * tr.Cfg.T
	t0 := time.Now()
	lastLog := t0
	startStep := tr.Step
	var rep Report
	progress := func(epoch int, terms Terms, final bool) {
		if opt.Progress == nil {
			return
		}
		el := time.Since(t0).Seconds()
		done := tr.Step - startStep
		fps := float64(done*frames) / el
		eta := time.Duration(float64(total-tr.Step)*el/float64(max(done, 1))) * time.Second
		line := fmt.Sprintf("epoch %d/%d step %d/%d %s | %.0f frames/s ETA %s",
			epoch+1, (total+nb-1)/nb, tr.Step, total, terms, fps, eta.Round(time.Second))
		if opt.Terminal {
			fmt.Fprintf(opt.Progress, "\r\033[K%s", line)
			if final {
				fmt.Fprintln(opt.Progress)
			}
		} else {
			fmt.Fprintln(opt.Progress, line)
		}
	}
	for tr.Step < total {
		epoch := tr.Step / nb
		skip := tr.Step % nb
		i := 0
		var stopErr error
		for b, err := range ld.Batches(epoch) {
			if err != nil {
				return rep, err
			}
			if i < skip {
				i++
				continue
			}
			i++
			terms, err := tr.TrainStep(b)
			if err != nil {
				return rep, fmt.Errorf("%w; the last good checkpoint is in %s", err, opt.Dir)
			}
			rep.Last = terms
			now := time.Now()
			if opt.Terminal || now.Sub(lastLog) >= opt.LogEvery {
				progress(epoch, terms, false)
				lastLog = now
				logJSON(map[string]any{"step": tr.Step, "epoch": epoch + 1, "terms": terms,
					"frames_per_sec": float64((tr.Step-startStep)*frames) / now.Sub(t0).Seconds()})
			}
			if tr.Cfg.CheckpointEvery > 0 && tr.Step%tr.Cfg.CheckpointEvery == 0 {
				if err := save(); err != nil {
					return rep, err
				}
			}
			if tr.Step >= total {
				break
			}
			if opt.StopAfter > 0 && tr.Step-startStep >= opt.StopAfter {
				stopErr = errStop
				break
			}
			if ctx.Err() != nil {
				stopErr = ctx.Err()
				break
			}
		}
		if stopErr != nil {
			progress(epoch, rep.Last, true)
			rep.Steps = tr.Step - startStep
			if err := save(); err != nil {
				return rep, err
			}
			if stopErr == errStop {
				return rep, nil
			}
			return rep, stopErr
		}
		if tr.Step%nb == 0 || tr.Step >= total {
			progress(epoch, rep.Last, true)
			ev := map[string]any{"epoch": epoch + 1, "step": tr.Step, "train": rep.Last}
			if !opt.NoValidation {
				vs := tr.Data.Val
				if vs == nil {
					vs = tr.Data.Test
				}
				val, err := tr.Evaluate(vs, tr.Cfg.Seed)
				if err != nil {
					return rep, err
				}
				rep.Val = &val
				ev["val"] = val
				if opt.Progress != nil {
					fmt.Fprintf(opt.Progress, "epoch %d validation %s\n", epoch+1, val)
				}
			}
			logJSON(ev)
			if err := save(); err != nil {
				return rep, err
			}
		}
	}
	rep.Steps = tr.Step - startStep
	rep.Seconds = time.Since(t0).Seconds()
	if rep.Seconds > 0 {
		rep.FramesSec = float64(rep.Steps*frames) / rep.Seconds
	}
	if err := save(); err != nil {
		return rep, err
	}
	if err := SaveWeights(filepath.Join(opt.Dir, WeightsFile), tr.Model); err != nil {
		return rep, err
	}
	return rep, nil
}

var errStop = errors.New("stopped")
