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
	"github.com/halo-ml/halo/vk"
)

// errHelp is returned by a command whose flags asked for help; it exits 0.
var errHelp = errors.New("help requested")

// parseFlags parses args with fs: help goes to stdout (once), flag errors
// and the usage after them to stderr.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			fs.SetOutput(stdout)
			fs.Usage()
			return errHelp
		}
	}
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return nil
}

// setUsage makes fs print "usage: " and the synopsis, the text lines, and
// the flags.
func setUsage(fs *flag.FlagSet, synopsis string, text ...string) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "usage: "+synopsis)
		fmt.Fprintln(w)
		for _, l := range text {
			fmt.Fprintln(w, l)
		}
		fmt.Fprintln(w)
		fs.PrintDefaults()
	}
}

func init() {
	register("info", "print the CPU features, the kernels chosen and why", runInfo)
}

func runInfo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: halo info")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Prints the Go runtime, the CPU kernel family chosen and why (HALO_CPU),")
		fmt.Fprintln(fs.Output(), "the SGEMM tile, the Vulkan devices (HALO_VK_DEVICE picks one), and the")
		fmt.Fprintln(fs.Output(), "compute backend chosen and why (HALO_BACKEND).")
	}
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "go:          %s %s/%s, GOMAXPROCS=%d\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "cpu kernels: %s (%s)\n", asm.Impl(), asm.Why())
	fmt.Fprintf(stdout, "available:   %s (HALO_CPU=generic|avx2 selects a lesser one)\n", strings.Join(asm.Impls(), ", "))
	mr, nr := asm.KernelShape()
	fmt.Fprintf(stdout, "sgemm tile:  %dx%d\n", mr, nr)
	if ds, err := vk.Devices(); err != nil {
		fmt.Fprintf(stdout, "vulkan:      %v\n", err)
	} else if len(ds) == 0 {
		fmt.Fprintln(stdout, "vulkan:      no devices")
	} else {
		for i, d := range ds {
			label := "vulkan:     "
			if i > 0 {
				label = "            "
			}
			fmt.Fprintf(stdout, "%s %v\n", label, d)
		}
	}
	b, note, err := tensor.OpenDefault()
	if err != nil {
		// info diagnoses: say why the requested backend is missing.
		fmt.Fprintf(stdout, "backend:     unavailable: %v\n", err)
		return nil
	}
	fmt.Fprintf(stdout, "backend:     %s (%s; registered: %s)\n", b.Name(), note, strings.Join(tensor.Backends(), ", "))
	return nil
}
