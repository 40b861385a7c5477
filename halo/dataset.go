// Package halo implements HALO, the Hamiltonian latent operator VAE for image
// sequences, with its data sets, metrics and pictures.
package halo

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime"
	"sort"
	"sync"

	"github.com/halo-ml/halo/tensor"
)

// Dims is the shape of one sequence: T frames of C x H x W.
type Dims struct{ T, C, H, W int }

// FrameLen returns the number of values in one frame.
func (d Dims) FrameLen() int { return d.C * d.H * d.W }

// Len returns the number of values in one sequence.
func (d Dims) Len() int { return d.T * d.FrameLen() }

func (d Dims) String() string { return fmt.Sprintf("[T=%d C=%d H=%d W=%d]", d.T, d.C, d.H, d.W) }

// Scale is the pixel range a model works on.
type Scale int

const (
	// Unit is the [0, 1] range every set is stored and scored on.
	Unit Scale = iota
	// Symmetric is [-1, 1] (x -> 2x-1), for models with a tanh decoder.
	Symmetric
)

func (s Scale) String() string {
	if s == Symmetric {
		return "[-1,1]"
	}
	return "[0,1]"
}

// FromUnit maps values on [0, 1] to the scale, in place.
func (s Scale) FromUnit(x []float32) {
	if s == Symmetric {
		for i, v := range x {
			x[i] = 2*v - 1
		}
	}
}

// ToUnit maps values on the scale back to [0, 1], clipping, in place; model
// outputs go through it before they are scored or drawn.
func (s Scale) ToUnit(x []float32) {
	for i, v := range x {
		if s == Symmetric {
			v = (v + 1) / 2
		}
		x[i] = min(max(v, 0), 1)
	}
}

// Label is the ground truth of one sequence.
type Label struct {
	// Motion is the action / motion class (for Sprites 3*action+direction),
	// or 0 for sets with a single motion.
	Motion int
	// Factors holds one value per Dataset.Factors name (categorical factors:
	// colours, attributes, identities, digit indices).
	Factors []int
	// Values holds one value per Dataset.Values name (continuous factors such
	// as an initial angle).
	Values []float64
	// Mask marks the observed frames; nil means every frame is observed.
	Mask []bool
}

// Split is an indexed collection of sequences of one shape. Implementations
// may hold the sequences in memory, render them on demand or read them from
// disk; Read must be safe for concurrent use.
type Split interface {
	Len() int
	Dims() Dims
	Label(i int) Label
	// Read writes sequence i as float32 [T, C, H, W] on [0, 1] into dst,
	// which has Dims().Len() elements.
	Read(i int, dst []float32) error
}

// Dataset groups the splits of one data set with the names of its labels.
type Dataset struct {
	Name    string
	Scale   Scale    // the scale the preset's model trains on
	Motions []string // names of Label.Motion values
	Factors []string // names of Label.Factors entries
	Values  []string // names of Label.Values entries
	Train   Split
	Val     Split // may be nil
	Test    Split
	// Extra holds further splits a protocol scores on (rotating MNIST's
	// "heldout" digits).
	Extra map[string]Split
	// Info carries protocol facts for the JSON description (seeds, sizes).
	Info map[string]any
}

// Splits returns the named non-nil splits in a fixed order.
func (d *Dataset) Splits() []NamedSplit {
	var out []NamedSplit
	for _, s := range []NamedSplit{{"train", d.Train}, {"val", d.Val}, {"test", d.Test}} {
		if s.Split != nil {
			out = append(out, s)
		}
	}
	for _, name := range sortedKeys(d.Extra) {
		out = append(out, NamedSplit{name, d.Extra[name]})
	}
	return out
}

// Close releases what the splits hold open (the real Sprites loader keeps
// its frame files open); splits without resources are left alone.
func (d *Dataset) Close() error {
	var errs []error
	for _, s := range d.Splits() {
		if c, ok := s.Split.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// NamedSplit is a split with its name.
type NamedSplit struct {
	Name  string
	Split Split
}

// memSplit holds sequences in memory as uint8 (value = byte/div) or float32.
type memSplit struct {
	dims   Dims
	u8     []uint8
	div    float32
	f32    []float32
	labels []Label
}

// NewSplitUint8 wraps sequences stored as bytes, value = byte/div on [0, 1]
// (div 255 for 8-bit images; 16 for the balls' coverage counts). data holds
// len(labels) sequences of shape d.
func NewSplitUint8(d Dims, data []uint8, div float32, labels []Label) Split {
	if len(data) != len(labels)*d.Len() {
		panic(fmt.Sprintf("halo: NewSplitUint8: %d bytes for %d sequences of %v", len(data), len(labels), d))
	}
	return &memSplit{dims: d, u8: data, div: div, labels: labels}
}

// NewSplitFloat32 wraps sequences stored as float32 on [0, 1].
func NewSplitFloat32(d Dims, data []float32, labels []Label) Split {
	if len(data) != len(labels)*d.Len() {
		panic(fmt.Sprintf("halo: NewSplitFloat32: %d values for %d sequences of %v", len(data), len(labels), d))
	}
	return &memSplit{dims: d, f32: data, labels: labels}
}

func (m *memSplit) Len() int          { return len(m.labels) }
func (m *memSplit) Dims() Dims        { return m.dims }
func (m *memSplit) Label(i int) Label { return m.labels[i] }

func (m *memSplit) Read(i int, dst []float32) error {
	n := m.dims.Len()
	checkDst("Read", dst, n)
	if m.f32 != nil {
		copy(dst, m.f32[i*n:(i+1)*n])
		return nil
	}
	for k, b := range m.u8[i*n : (i+1)*n] {
		dst[k] = float32(b) / m.div
	}
	return nil
}

func checkDst(op string, dst []float32, n int) {
	if len(dst) != n {
		panic(fmt.Sprintf("halo: %s: dst has %d elements, a sequence has %d", op, len(dst), n))
	}
}

// Subset returns the sequences idx of s, in that order.
func Subset(s Split, idx []int) Split {
	for _, i := range idx {
		if i < 0 || i >= s.Len() {
			panic(fmt.Sprintf("halo: Subset: index %d out of range [0, %d)", i, s.Len()))
		}
	}
	return &subset{s, append([]int(nil), idx...)}
}

type subset struct {
	s   Split
	idx []int
}

func (s *subset) Len() int                        { return len(s.idx) }
func (s *subset) Dims() Dims                      { return s.s.Dims() }
func (s *subset) Label(i int) Label               { return s.s.Label(s.idx[i]) }
func (s *subset) Read(i int, dst []float32) error { return s.s.Read(s.idx[i], dst) }

// LoaderConfig sets how a Loader batches a split.
type LoaderConfig struct {
	BatchSize int
	Seed      uint64 // drives the per-epoch order
	Shuffle   bool   // false: file order every epoch
	DropLast  bool   // drop a final short batch
	Scale     Scale  // pixel scale of the batches
	Workers   int    // goroutines reading sequences; 0 = GOMAXPROCS
	Prefetch  int    // batches prepared ahead; 0 = 2
}

// Batch is one mini-batch.
type Batch struct {
	X      *tensor.Tensor // [B, T, C, H, W] on the loader's scale
	Index  []int          // indices into the split
	Labels []Label
	// Mask is [B*T], 1 for observed frames and 0 for missing ones; nil when
	// every frame of the batch is observed.
	Mask []float32
}

// Loader yields deterministic mini-batches of a split: the order of epoch e
// depends only on (Seed, e), so a run can be resumed or repeated exactly.
type Loader struct {
	split Split
	cfg   LoaderConfig
}

// NewLoader returns a loader over s.
func NewLoader(s Split, cfg LoaderConfig) *Loader {
	if cfg.BatchSize <= 0 {
		panic(fmt.Sprintf("halo: NewLoader: batch size %d", cfg.BatchSize))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 2
	}
	return &Loader{split: s, cfg: cfg}
}

// NumBatches returns the number of batches per epoch.
func (l *Loader) NumBatches() int {
	n := l.split.Len()
	if l.cfg.DropLast {
		return n / l.cfg.BatchSize
	}
	return (n + l.cfg.BatchSize - 1) / l.cfg.BatchSize
}

// Order returns the sequence order of an epoch: identity without Shuffle,
// else a Fisher-Yates permutation from a splitmix64 stream seeded with
// Mix(Seed, epoch).
func (l *Loader) Order(epoch int) []int {
	n := l.split.Len()
	if !l.cfg.Shuffle {
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		return order
	}
	return NewSplitMix64(Mix(l.cfg.Seed, uint64(epoch))).Perm(n)
}

// Batches returns the batches of one epoch in order. Sequences are read by
// the worker goroutines ahead of the consumer; breaking out of the loop stops
// them. The first read error ends the epoch.
func (l *Loader) Batches(epoch int) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		order := l.Order(epoch)
		nb := l.NumBatches()
		type job struct {
			b   *Batch
			err error
			wg  sync.WaitGroup
		}
		done := make(chan struct{})
		var workers sync.WaitGroup
		// Deferred calls run last-in first-out: stop the producer, then wait
		// for the workers to finish the reads already handed out.
		defer workers.Wait()
		defer close(done)
		queue := make(chan *job, l.cfg.Prefetch)
		type task struct {
			j    *job
			k    int // position in the batch
			seq  int
			errs *sync.Mutex
		}
		tasks := make(chan task, l.cfg.Workers*4)
		for w := 0; w < l.cfg.Workers; w++ {
			workers.Add(1)
			go func() {
				defer workers.Done()
				d := l.split.Dims()
				for t := range tasks {
					n := d.Len()
					dst := t.j.b.X.Data()[t.k*n : (t.k+1)*n]
					if err := l.split.Read(t.seq, dst); err != nil {
						t.errs.Lock()
						if t.j.err == nil {
							t.j.err = err
						}
						t.errs.Unlock()
					} else {
						l.cfg.Scale.FromUnit(dst)
					}
					t.j.wg.Done()
				}
			}()
		}
		go func() {
			defer close(tasks)
			defer close(queue)
			for b := 0; b < nb; b++ {
				idx := order[b*l.cfg.BatchSize : min((b+1)*l.cfg.BatchSize, len(order))]
				j := &job{b: l.newBatch(idx)}
				j.wg.Add(len(idx))
				select {
				case queue <- j:
				case <-done:
					return
				}
				mu := new(sync.Mutex)
				for k, seq := range idx {
					select {
					case tasks <- task{j, k, seq, mu}:
					case <-done:
						// Account for the tasks never sent so waiters finish.
						for range idx[k:] {
							j.wg.Done()
						}
						return
					}
				}
			}
		}()
		for j := range queue {
			j.wg.Wait()
			if j.err != nil {
				yield(nil, j.err)
				return
			}
			if !yield(j.b, nil) {
				return
			}
		}
	}
}

func (l *Loader) newBatch(idx []int) *Batch {
	d := l.split.Dims()
	b := &Batch{X: tensor.New(len(idx), d.T, d.C, d.H, d.W), Index: append([]int(nil), idx...)}
	b.Labels = make([]Label, len(idx))
	for k, i := range idx {
		b.Labels[k] = l.split.Label(i)
		if m := b.Labels[k].Mask; m != nil {
			if b.Mask == nil {
				b.Mask = make([]float32, len(idx)*d.T)
				for q := range b.Mask {
					b.Mask[q] = 1
				}
			}
			for t, obs := range m {
				if !obs {
					b.Mask[k*d.T+t] = 0
				}
			}
		}
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
