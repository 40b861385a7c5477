package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/halo-ml/halo/halo"
)

func init() {
	register("demo", "train a small model on rotating balls and write pictures of what it learnt", runDemo)
}

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	out := fs.String("out", "halo-demo", "output folder")
	steps := fs.Int("steps", 0, "training steps (0: the demo's default)")
	cfgPath := fs.String("config", "", "JSON file overriding fields of the demo's config")
	setUsage(fs, "halo demo [-out DIR] [-steps N] [-config FILE]",
		"Generates the rotating-balls data, trains a small HALO model on it (a few",
		"minutes on two cores) and writes into DIR: reconstructions, generation from",
		"one frame (16 and 64 frames), colour swaps, the latent energy along a",
		"generated trajectory, and report.json with the checks.",
	)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	cfg := halo.DemoConfig()
	if *cfgPath != "" {
		raw, err := os.ReadFile(*cfgPath)
		if err != nil {
			return err
		}
		if cfg, err = halo.ParseConfig(raw, cfg); err != nil {
			return fmt.Errorf("config %s: %w", *cfgPath, err)
		}
	}
	if *steps < 0 {
		return fmt.Errorf("-steps %d: must be >= 0", *steps)
	}
	if *steps > 0 {
		cfg.MaxSteps = *steps
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := halo.RunDemo(ctx, halo.DemoOptions{Dir: *out, Config: &cfg, Progress: stdout, Terminal: isTerminal(stdout)})
	if err != nil {
		return err
	}
	check := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	fmt.Fprintf(stdout, "trained %d steps in %.0f s\n", rep.Steps, rep.TrainSeconds)
	fmt.Fprintf(stdout, "reconstruction MSE %.5f, generation MSE (%d frames from frame 0) %.5f\n", rep.ReconMSE, cfg.T, rep.GenMSE)
	fmt.Fprintf(stdout, "orbit: worst centroid error over %d generated frames %.2f px (bar 1.5): %s\n", rep.LongFrames, rep.OrbitError, check(rep.OrbitError <= 1.5))
	fmt.Fprintf(stdout, "colour swap: %.1f%% of %d swaps show the donor's colour (bar 95%%): %s\n", 100*rep.SwapAccuracy, rep.SwapPairs, check(rep.SwapAccuracy >= 0.95))
	fmt.Fprintf(stdout, "latent energy drift along the generated trajectories %.2g relative (bar 1e-6): %s\n", rep.EnergyDrift, check(rep.EnergyDrift <= 1e-6))
	abs, _ := filepath.Abs(*out)
	fmt.Fprintf(stdout, "wrote %d files to %s\n", len(rep.Files), abs)
	for _, f := range rep.Files {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	return nil
}

// isTerminal reports whether w is a character device (a terminal), where a
// progress line can be rewritten in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
