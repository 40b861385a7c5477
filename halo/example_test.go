package halo_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/halo-ml/halo/halo"
	"github.com/halo-ml/halo/tensor"
)

// exampleConfig is the balls preset shrunk so the examples run in a blink.
func exampleConfig() halo.Config {
	c, err := halo.Preset("balls")
	if err != nil {
		log.Fatal(err)
	}
	c.Channels, c.FCHidden, c.HDim, c.ZDim = []int{4, 4, 4}, 16, 8, 4
	c.T, c.Batch, c.TestBatch = 6, 4, 4
	c.Epochs, c.MaxSteps = 0, 5
	return c
}

// Train a tiny model in code: a data set, a trainer, a run folder.
func Example_train() {
	cfg := exampleConfig()
	ds := &halo.Dataset{Name: "balls",
		Train: halo.GenerateBalls(halo.BallsConfig{N: 12, Seed: 1, T: cfg.T}),
		Test:  halo.GenerateBalls(halo.BallsConfig{N: 4, Seed: 2, T: cfg.T})}
	tr, err := halo.NewTrainer(cfg, ds)
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "halo-example")
	defer os.RemoveAll(dir)
	rep, err := tr.Train(context.Background(), halo.TrainOptions{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	_, err = os.Stat(filepath.Join(dir, halo.CheckpointFile))
	fmt.Println("steps:", rep.Steps, "checkpoint written:", err == nil, "validated:", rep.Val != nil)
	// Output: steps: 5 checkpoint written: true validated: true
}

// Load a checkpoint and generate sequences four times the training length
// from single frames.
func ExampleModel_Generate() {
	cfg := exampleConfig()
	ds := &halo.Dataset{Name: "balls",
		Train: halo.GenerateBalls(halo.BallsConfig{N: 8, Seed: 1, T: cfg.T}),
		Test:  halo.GenerateBalls(halo.BallsConfig{N: 4, Seed: 2, T: cfg.T})}
	tr, _ := halo.NewTrainer(cfg, ds)
	dir, _ := os.MkdirTemp("", "halo-example")
	defer os.RemoveAll(dir)
	if _, err := tr.Train(context.Background(), halo.TrainOptions{Dir: dir, NoValidation: true}); err != nil {
		log.Fatal(err)
	}

	ck, err := halo.LoadCheckpoint(dir)
	if err != nil {
		log.Fatal(err)
	}
	m := ck.Model
	d := ds.Test.Dims()
	first := tensor.New(2, d.C, d.H, d.W) // the first frames of two test sequences
	seq := make([]float32, d.Len())
	for i := range 2 {
		if err := ds.Test.Read(i, seq); err != nil {
			log.Fatal(err)
		}
		copy(first.Data()[i*d.FrameLen():], seq[:d.FrameLen()])
	}
	m.Cfg.Scale().FromUnit(first.Data())
	g, err := m.Generate(first, nil, 4*cfg.T)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("frames:", g.Frames.Shape())
	// Output: frames: [2 24 3 32 32]
}

// The energy of a Hamiltonian operator along a latent trajectory is
// conserved to rounding: the trajectory is unrolled exactly.
func ExampleModel_EnergyAlong() {
	cfg := exampleConfig()
	m, err := halo.NewModel(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		log.Fatal(err)
	}
	// An operator with positive definite M (a bounded, elliptic flow); a
	// trained model's comes from its checkpoint instead.
	copy(m.Dyn.Params()[0].Tensor.Data(), []float32{
		0.9, 0.1, 0.0, 0.2,
		0.1, 0.7, 0.1, 0.0,
		0.0, 0.1, 1.1, 0.0,
		0.2, 0.0, 0.0, 0.8,
	})
	s0 := tensor.FromSlice([]float32{0.6, 0.8, -0.8, 0.6}, 1, 1, 4) // [q; p] of one subspace
	_, exact, err := m.Unroll(s0, nil, 1000)
	if err != nil {
		log.Fatal(err)
	}
	e, err := m.EnergyAlong(exact[0], 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("frames:", len(e.Total), "energy conserved to 1e-9:", e.Drift() < 1e-9)
	// Output: frames: 1000 energy conserved to 1e-9: true
}
