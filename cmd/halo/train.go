package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/halo-ml/halo/halo"
	"github.com/halo-ml/halo/tensor"
)

func init() {
	register("train", "train a model on a preset's data set, with checkpoints and resume", runTrain)
}

// setFlags collects repeated -set name=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// buildConfig assembles a config from a preset, a JSON file and -set flags.
func buildConfig(preset, file, dims string, sets []string) (halo.Config, error) {
	cfg, err := halo.Preset(preset)
	if err != nil {
		return cfg, err
	}
	switch dims {
	case "":
	case "paper":
		cfg = cfg.WithPaperDims()
	case "official":
		cfg = cfg.WithOfficialDims()
	default:
		return cfg, fmt.Errorf("-dims %q: have paper, official", dims)
	}
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return cfg, err
		}
		if cfg, err = halo.ParseConfig(raw, cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", file, err)
		}
	}
	for _, s := range sets {
		name, value, ok := strings.Cut(s, "=")
		if !ok {
			return cfg, fmt.Errorf("-set %q: want name=value", s)
		}
		if err := cfg.Set(name, value); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	preset := fs.String("preset", "balls", "preset: "+strings.Join(halo.Presets(), ", "))
	cfgFile := fs.String("config", "", "JSON file overriding fields of the preset (its \"preset\" field picks the base)")
	dims := fs.String("dims", "", "latent sizes: paper or official (default: the preset's, see README)")
	var sets setFlags
	fs.Var(&sets, "set", "override one config field, name=value (repeatable), e.g. -set lr=1e-3")
	out := fs.String("out", "", "run folder for checkpoints and logs (default runs/PRESET)")
	resume := fs.Bool("resume", false, "continue the run in -out from its checkpoint")
	dataDir := fs.String("data-dir", "", "data folder (sprites, mug; rmnist: MNIST idx files)")
	steps := fs.Int("steps", 0, "stop after this many steps in all (overrides epochs)")
	budget := fs.Duration("budget", 0, "stop after this much training time (with a checkpoint), e.g. 60m")
	evalAfter := fs.Bool("eval", true, "score generation on the test split when training ends")
	quiet := fs.Bool("quiet", false, "no progress lines")
	setUsage(fs, "halo train [-preset NAME] [-config FILE] [-set name=value ...] [-out DIR] [-resume]",
		"Trains HALO on the preset's data set. The run folder receives checkpoint.safetensors",
		"(weights, optimiser, config, step, RNG; written atomically), config.json,",
		"metrics.jsonl and, at the end, model.safetensors (PyTorch names). Ctrl-C stops",
		"with a checkpoint; -resume continues it exactly.",
	)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join("runs", *preset)
	}
	ckPath := filepath.Join(*out, halo.CheckpointFile)
	_, statErr := os.Stat(ckPath)
	exists := statErr == nil
	if exists && !*resume {
		return fmt.Errorf("%s holds a checkpoint: add -resume to continue it, or choose another -out", *out)
	}
	if *resume && !exists {
		return fmt.Errorf("-resume: no checkpoint in %s", *out)
	}
	var cfg halo.Config
	var err error
	if *resume {
		ck, err := halo.LoadCheckpoint(ckPath)
		if err != nil {
			return err
		}
		cfg = ck.Cfg
		explicit := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
		if explicit["preset"] && cfg.Preset != *preset {
			return fmt.Errorf("checkpoint %s is of preset %q, not %q", ckPath, cfg.Preset, *preset)
		}
		if explicit["config"] || explicit["set"] || explicit["dims"] {
			return errors.New("-resume continues the checkpoint's own config; -config, -set and -dims do not apply")
		}
	} else if cfg, err = buildConfig(*preset, *cfgFile, *dims, sets); err != nil {
		return err
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if *steps > 0 {
		cfg.MaxSteps = *steps
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	ds, err := halo.OpenDataset(cfg)
	if err != nil {
		return err
	}
	defer ds.Close()
	var tr *halo.Trainer
	if *resume {
		if tr, err = halo.ResumeTrainer(ckPath, ds); err != nil {
			return err
		}
		tr.Cfg.MaxSteps, tr.Cfg.DataDir = cfg.MaxSteps, cfg.DataDir
		fmt.Fprintf(stdout, "resuming %s at step %d\n", *out, tr.Step)
	} else if tr, err = halo.NewTrainer(cfg, ds); err != nil {
		return err
	}
	if name := os.Getenv("HALO_BACKEND"); name != "" && name != "cpu" {
		// Only when asked for: the CPU stays the default for training.
		be, note, err := tensor.Open(name)
		if err != nil {
			return err
		}
		tr.SetBackend(be)
		fmt.Fprintf(stdout, "backend %s (%s)\n", be.Name(), note)
	}
	fmt.Fprintf(stdout, "preset %s: data %s (%d train sequences of %s), %d parameters, %s dynamics, K=%d d=%d z=%d, %d steps of batch %d\n",
		cfg.Preset, ds.Name, ds.Train.Len(), ds.Train.Dims(), tr.Model.NumParams(), cfg.Dynamics,
		cfg.Operators, cfg.D, cfg.ZDim, tr.TotalSteps(), cfg.Batch)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *budget)
		defer cancel()
	}
	opt := halo.TrainOptions{Dir: *out, Terminal: isTerminal(stdout)}
	if !*quiet {
		opt.Progress = stdout
	}
	rep, err := tr.Train(ctx, opt)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(stdout, "time budget %s reached at step %d; checkpoint in %s\n", *budget, tr.Step, *out)
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stdout, "interrupted at step %d; checkpoint in %s (continue with -resume)\n", tr.Step, *out)
		return nil
	case err != nil:
		return err
	default:
		fmt.Fprintf(stdout, "done: %d steps in %s (%.0f frames/s); run folder %s\n", rep.Steps,
			time.Duration(rep.Seconds*float64(time.Second)).Round(time.Second), rep.FramesSec, *out)
	}
	if !*evalAfter {
		return nil
	}
	return printEval(stdout, tr.Model, ds, 0)
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x73616d706c65)) }
