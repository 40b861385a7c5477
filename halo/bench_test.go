package halo

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkTrainStep times one training step (forward, loss, backward, Adam)
// of a preset's model on a random batch of the preset's shape, and reports
// frames per second.
func BenchmarkTrainStep(b *testing.B) {
	for _, name := range []string{"balls", "mnist", "sprites"} {
		b.Run(name, func(b *testing.B) {
			c, err := Preset(name)
			if err != nil {
				b.Fatal(err)
			}
			c.Init = "default"
			c.Epochs = 1
			if name == "mnist" {
				c.LossVRecon = false
			}
			ds := &Dataset{Name: name, Train: randomSplit(c, c.Batch, 1)}
			tr, err := NewTrainer(c, ds)
			if err != nil {
				b.Fatal(err)
			}
			var batch *Batch
			for bt, err := range tr.loader(ds.Train, true, c.Batch).Batches(0) {
				if err != nil {
					b.Fatal(err)
				}
				batch = bt
				break
			}
			if _, err := tr.TrainStep(batch); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := tr.TrainStep(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*c.Batch*c.T)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

// randomSplit returns n sequences of uniform noise in the config's shape.
func randomSplit(c Config, n int, seed uint64) Split {
	d := c.Dims()
	rng := rand.New(rand.NewPCG(seed, 1))
	data := make([]float32, n*d.Len())
	for i := range data {
		data[i] = rng.Float32()
	}
	labels := make([]Label, n)
	for i := range labels {
		labels[i].Motion = rng.IntN(c.Operators)
	}
	return NewSplitFloat32(d, data, labels)
}
