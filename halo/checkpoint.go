package halo

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/halo-ml/halo/layers"
	"github.com/halo-ml/halo/tensor"
)

// checkpointFormat tags our checkpoint files.
const checkpointFormat = "halo-checkpoint-1"

// File names inside a run's folder.
const (
	CheckpointFile = "checkpoint.safetensors" // weights, optimiser state, config, step, RNG
	ConfigFile     = "config.json"            // the run's config, beside the checkpoint
	WeightsFile    = "model.safetensors"      // weights alone, PyTorch's names
)

// Checkpoint is everything needed to continue a run exactly: the model's
// parameters and buffers, Adam's moments and step counts, the config, the
// number of steps taken and the state of the training generator.
type Checkpoint struct {
	Cfg   Config
	Step  int
	Model *Model
	Adam  layers.AdamState
	RNG   []byte // rand.PCG's MarshalBinary
}

// SaveCheckpoint writes ck to path as one safetensors file, atomically, and
// the config as JSON beside it (ConfigFile in the same folder). Parameters
// that are not finite are refused, so a diverged run never overwrites its
// last good checkpoint.
func SaveCheckpoint(path string, ck *Checkpoint) error {
	tensors := layers.StateDict(ck.Model)
	for name, a := range tensors {
		if v, ok := a.Data.([]float32); ok {
			for i, x := range v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return fmt.Errorf("halo: checkpoint %s not written: parameter %s holds %g at element %d", path, name, x, i)
				}
			}
		}
	}
	names := trainableNames(ck.Model)
	if len(ck.Adam.Steps) != len(names) {
		return fmt.Errorf("halo: checkpoint %s: optimiser state for %d parameters, model has %d", path, len(ck.Adam.Steps), len(names))
	}
	for k, name := range names {
		if ck.Adam.M[k] != nil {
			shape := tensors[name].Shape
			tensors["optim.exp_avg."+name] = tensor.NewArray(ck.Adam.M[k], shape...)
			tensors["optim.exp_avg_sq."+name] = tensor.NewArray(ck.Adam.V[k], shape...)
		}
	}
	steps, _ := json.Marshal(ck.Adam.Steps)
	meta := map[string]string{
		"format":      checkpointFormat,
		"config":      string(ck.Cfg.JSON()),
		"step":        strconv.Itoa(ck.Step),
		"rng":         base64.StdEncoding.EncodeToString(ck.RNG),
		"optim_steps": string(steps),
	}
	if err := tensor.WriteSafetensors(path, tensors, meta); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(filepath.Dir(path), ConfigFile), ck.Cfg.JSON())
}

// trainableNames lists the names of the model's trained parameters, in the
// order of layers.Trainable (and so of the optimiser's state).
func trainableNames(m *Model) []string {
	var names []string
	for _, p := range m.Params() {
		if !p.Buffer {
			names = append(names, p.Name)
		}
	}
	return names
}

// LoadCheckpoint reads a checkpoint written by SaveCheckpoint (path may be
// the file or the run's folder) and rebuilds its model.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, CheckpointFile)
	}
	f, err := tensor.ReadSafetensors(path)
	if err != nil {
		return nil, fmt.Errorf("halo: checkpoint: %w", err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("halo: checkpoint %s: "+format, append([]any{path}, a...)...)
	}
	if f.Metadata["format"] != checkpointFormat {
		return nil, bad("not a halo checkpoint (format %q; a weights-only file loads with LoadWeights)", f.Metadata["format"])
	}
	cfg, err := ParseConfig([]byte(f.Metadata["config"]), Config{})
	if err != nil {
		return nil, bad("config: %v", err)
	}
	ck := &Checkpoint{Cfg: cfg}
	if ck.Step, err = strconv.Atoi(f.Metadata["step"]); err != nil || ck.Step < 0 {
		return nil, bad("step %q", f.Metadata["step"])
	}
	if ck.RNG, err = base64.StdEncoding.DecodeString(f.Metadata["rng"]); err != nil {
		return nil, bad("rng state: %v", err)
	}
	if err := new(rand.PCG).UnmarshalBinary(ck.RNG); err != nil {
		return nil, bad("rng state: %v", err)
	}
	// The weights are overwritten below; the init only needs to be cheap.
	initCfg := cfg
	initCfg.Init = "default"
	if ck.Model, err = NewModel(initCfg, rand.New(rand.NewPCG(0, 0))); err != nil {
		return nil, bad("%v", err)
	}
	ck.Model.Cfg = cfg
	weights := map[string]*tensor.Array{}
	moments := map[string]*tensor.Array{}
	for name, a := range f.Tensors {
		if len(name) > 6 && name[:6] == "optim." {
			moments[name] = a
		} else {
			weights[name] = a
		}
	}
	if err := layers.LoadStateDict(ck.Model, weights, path); err != nil {
		return nil, err
	}
	names := trainableNames(ck.Model)
	if err := json.Unmarshal([]byte(f.Metadata["optim_steps"]), &ck.Adam.Steps); err != nil || len(ck.Adam.Steps) != len(names) {
		return nil, bad("optimiser steps %q for %d parameters", f.Metadata["optim_steps"], len(names))
	}
	ck.Adam.M = make([][]float32, len(names))
	ck.Adam.V = make([][]float32, len(names))
	used := 0
	for k, name := range names {
		m, v := moments["optim.exp_avg."+name], moments["optim.exp_avg_sq."+name]
		if (m == nil) != (v == nil) {
			return nil, bad("optimiser moments of %s: one of exp_avg, exp_avg_sq missing", name)
		}
		if m == nil {
			continue
		}
		if !slices.Equal(m.Shape, weights[name].Shape) || !slices.Equal(v.Shape, weights[name].Shape) {
			return nil, bad("optimiser moments of %s have shapes %s, %s; the parameter %s", name,
				tensor.ShapeString(m.Shape), tensor.ShapeString(v.Shape), tensor.ShapeString(weights[name].Shape))
		}
		ck.Adam.M[k], ck.Adam.V[k] = m.Float32s(), v.Float32s()
		used += 2
	}
	if used != len(moments) {
		return nil, bad("%d optimiser tensors do not belong to any parameter", len(moments)-used)
	}
	return ck, nil
}

// SaveWeights writes the model's parameters and buffers alone, with the
// reference model's names, for PyTorch's load_state_dict or LoadWeights.
func SaveWeights(path string, m *Model) error {
	return tensor.WriteSafetensors(path, layers.StateDict(m), map[string]string{"config": string(m.Cfg.JSON())})
}

// LoadWeights reads weights written by SaveWeights (or by PyTorch with the
// same names) into m.
func LoadWeights(path string, m *Model) error {
	f, err := tensor.ReadSafetensors(path)
	if err != nil {
		return fmt.Errorf("halo: weights: %w", err)
	}
	delete(f.Tensors, "J") // the reference model keeps J as a buffer
	return layers.LoadStateDict(m, f.Tensors, path)
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
