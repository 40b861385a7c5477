package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/halo-ml/halo/asm"
	"github.com/halo-ml/halo/tensor"
)

// errHelp is returned by a command whose flags asked for help; it exits 0.
var errHelp = errors.New("help requested")

// parseFlags parses args with fs, printing help to stdout on -help.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return errHelp
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return nil
}

func init() {
	register("info", "print the CPU features, the kernels chosen and why", runInfo)
}

func runInfo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "go:          %s %s/%s, GOMAXPROCS=%d\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "cpu kernels: %s (%s)\n", asm.Impl(), asm.Why())
	fmt.Fprintf(stdout, "available:   %s (HALO_CPU=generic|avx2 selects a lesser one)\n", strings.Join(asm.Impls(), ", "))
	mr, nr := asm.KernelShape()
	fmt.Fprintf(stdout, "sgemm tile:  %dx%d\n", mr, nr)
	b, note, err := tensor.OpenDefault()
	if err != nil {
		// info diagnoses: say why the requested backend is missing.
		fmt.Fprintf(stdout, "backend:     unavailable: %v\n", err)
		return nil
	}
	fmt.Fprintf(stdout, "backend:     %s (%s; registered: %s)\n", b.Name(), note, strings.Join(tensor.Backends(), ", "))
	return nil
}
