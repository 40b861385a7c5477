package halo

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyBalls is a balls data set small enough for unit tests.
func tinyBalls(t int) *Dataset {
	return &Dataset{Name: "balls",
		Train: GenerateBalls(BallsConfig{N: 9, Seed: 1, T: t}),
		Test:  GenerateBalls(BallsConfig{N: 4, Seed: 2, T: t})}
}

func tinyTrainConfig(t testing.TB) Config {
	c := tinyConfig(t)
	c.Batch, c.TestBatch, c.MaxSteps, c.Epochs = 3, 4, 7, 0
	c.LR = 1e-3
	c.LRDecay, c.LRDecaySteps = 0.5, 3 // the resumed run must follow the schedule too
	return c
}

func paramsEqual(t *testing.T, a, b *Model) {
	t.Helper()
	pa, pb := a.Params(), b.Params()
	if len(pa) != len(pb) {
		t.Fatalf("%d parameters against %d", len(pa), len(pb))
	}
	for i := range pa {
		da, db := pa[i].Tensor.Data(), pb[i].Tensor.Data()
		for j := range da {
			if math.Float32bits(da[j]) != math.Float32bits(db[j]) {
				t.Fatalf("%s[%d]: %v against %v", pa[i].Name, j, da[j], db[j])
			}
		}
	}
}

// A run stopped after 4 steps and resumed from its checkpoint ends with the
// same weights, bit for bit, as a run that was not interrupted (the stop
// falls inside an epoch, so the resumed run must also skip the batches
// already seen).
func TestResumeIsBitExact(t *testing.T) {
	c := tinyTrainConfig(t)
	ds := tinyBalls(c.T)
	full, err := NewTrainer(c, ds)
	if err != nil {
		t.Fatal(err)
	}
	dirA := t.TempDir()
	if _, err := full.Train(context.Background(), TrainOptions{Dir: dirA}); err != nil {
		t.Fatal(err)
	}
	if full.Step != 7 {
		t.Fatalf("uninterrupted run took %d steps, want 7", full.Step)
	}

	dirB := t.TempDir()
	part, err := NewTrainer(c, ds)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := part.Train(context.Background(), TrainOptions{Dir: dirB, StopAfter: 4}); err != nil {
		t.Fatal(err)
	}
	if part.Step != 4 {
		t.Fatalf("stopped run at step %d, want 4", part.Step)
	}
	resumed, err := ResumeTrainer(dirB, ds)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Step != 4 {
		t.Fatalf("resumed at step %d, want 4", resumed.Step)
	}
	if _, err := resumed.Train(context.Background(), TrainOptions{Dir: dirB}); err != nil {
		t.Fatal(err)
	}
	paramsEqual(t, full.Model, resumed.Model)
	// The optimiser's moments too.
	sa, sb := full.Opt.State(), resumed.Opt.State()
	for k := range sa.M {
		for j := range sa.M[k] {
			if sa.M[k][j] != sb.M[k][j] || sa.V[k][j] != sb.V[k][j] || sa.Steps[k] != sb.Steps[k] {
				t.Fatalf("optimiser state of parameter %d differs at %d", k, j)
			}
		}
	}
	// The folder holds what the run promises.
	for _, f := range []string{CheckpointFile, ConfigFile, WeightsFile, "metrics.jsonl"} {
		if _, err := os.Stat(filepath.Join(dirB, f)); err != nil {
			t.Errorf("run folder: %v", err)
		}
	}
	cfg, err := LoadConfig(filepath.Join(dirB, ConfigFile))
	if err != nil || cfg.MaxSteps != 7 || cfg.HDim != c.HDim {
		t.Fatalf("saved config %+v, %v", cfg, err)
	}
	// A different seed really changes the run (the comparison above can fail).
	c2 := c
	c2.Seed++
	other, _ := NewTrainer(c2, ds)
	if _, err := other.Train(context.Background(), TrainOptions{Dir: t.TempDir(), NoValidation: true}); err != nil {
		t.Fatal(err)
	}
	if same := func() bool {
		a, b := full.Model.Params()[0].Tensor.Data(), other.Model.Params()[0].Tensor.Data()
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}(); same {
		t.Fatal("runs with different seeds ended with the same weights")
	}
}

// A loss that turns NaN stops training with an error naming the step, and
// the checkpoint on disk stays the last good one.
func TestNaNLossStopsAndKeepsCheckpoint(t *testing.T) {
	c := tinyTrainConfig(t)
	c.CheckpointEvery = 1
	ds := tinyBalls(c.T)
	tr, err := NewTrainer(c, ds)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := tr.Train(context.Background(), TrainOptions{Dir: dir, StopAfter: 2, NoValidation: true}); err != nil {
		t.Fatal(err)
	}
	good, err := LoadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Poison one weight of the decoder's last convolution: the output, and so
	// the loss, becomes NaN at the next step.
	for _, p := range tr.Model.Params() {
		if strings.HasPrefix(p.Name, "decoder.") && strings.HasSuffix(p.Name, ".weight") && p.Tensor.Rank() == 4 {
			p.Tensor.Data()[0] = float32(math.NaN())
		}
	}
	_, err = tr.Train(context.Background(), TrainOptions{Dir: dir, NoValidation: true})
	if err == nil || !strings.Contains(err.Error(), "step 3") || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("training on a NaN weight: error %v, want one naming step 3 and NaN", err)
	}
	after, err := LoadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if after.Step != 2 {
		t.Fatalf("checkpoint at step %d after the failure, want the last good one at 2", after.Step)
	}
	paramsEqual(t, good.Model, after.Model)
	// A NaN parameter is never written into a checkpoint.
	ck, _ := tr.Checkpoint()
	if err := SaveCheckpoint(filepath.Join(dir, CheckpointFile), ck); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("saving NaN weights: %v", err)
	}
}

func TestStartFrameIsObservedEverywhere(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const b, tt = 3, 6
	mask := make([]float32, b*tt)
	for i := range mask {
		mask[i] = 1
	}
	// Frame 1 missing in sequence 0, frame 3 in sequence 2; frame 5 is the
	// last and never a start.
	mask[0*tt+1], mask[2*tt+3] = 0, 0
	counts := map[int]int{}
	for range 4000 {
		f, err := startFrame(rng, mask, b, tt)
		if err != nil {
			t.Fatal(err)
		}
		counts[f]++
	}
	for _, f := range []int{0, 2, 4} {
		if counts[f] < 1100 || counts[f] > 1600 {
			t.Errorf("start %d drawn %d times of 4000, want about a third: %v", f, counts[f], counts)
		}
	}
	if len(counts) != 3 {
		t.Errorf("starts drawn %v, want only 0, 2, 4", counts)
	}
	for i := range b {
		mask[i*tt+0], mask[i*tt+2], mask[i*tt+4] = 1, 0, 0
	}
	mask[1*tt+0] = 0
	if f, err := startFrame(rng, mask, b, tt); err == nil {
		t.Errorf("no frame observed everywhere, yet start %d", f)
	}
	if f, _ := startFrame(rng, nil, b, tt); f < 0 || f > tt-2 {
		t.Errorf("unmasked start %d outside [0, %d]", f, tt-2)
	}
}
