package tensor

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
)

// Buffer is float32 memory owned by a Backend: host memory for the CPU,
// device memory for an accelerator. Kernels take buffers of their own
// backend only.
type Buffer interface {
	// Len is the number of float32 values the buffer holds.
	Len() int
}

// MapOp is an elementwise unary operation y = f(x; alpha).
type MapOp int

// The unary operations. Alpha is used by the ones that say so.
const (
	MapCopy      MapOp = iota // y = x
	MapNeg                    // y = -x
	MapScale                  // y = alpha*x
	MapAddScalar              // y = x + alpha
	MapSquare                 // y = x*x
	MapRelu                   // y = max(x, 0), NaN propagates
	MapLeakyRelu              // y = x > 0 ? x : alpha*x
	MapTanh                   // y = tanh(x)
	MapSigmoid                // y = 1/(1+exp(-x))
	MapExp                    // y = exp(x)
	MapLog                    // y = log(x)
	MapSqrt                   // y = sqrt(x)
	MapAbs                    // y = |x|
	MapPow                    // y = x^alpha (math.Pow semantics)
	mapOpCount
)

var mapOpNames = [...]string{"copy", "neg", "scale", "add_scalar", "square", "relu", "leaky_relu", "tanh", "sigmoid", "exp", "log", "sqrt", "abs", "pow"}

func (op MapOp) String() string {
	if op >= 0 && op < mapOpCount {
		return mapOpNames[op]
	}
	return fmt.Sprintf("MapOp(%d)", int(op))
}

// BinaryOp is an elementwise binary operation z = f(x, y) with broadcasting.
type BinaryOp int

// The binary operations.
const (
	BinaryAdd BinaryOp = iota // z = x + y
	BinarySub                 // z = x - y
	BinaryMul                 // z = x * y
	BinaryDiv                 // z = x / y
	BinaryMax                 // z = max(x, y), NaN propagates
	binaryOpCount
)

var binaryOpNames = [...]string{"add", "sub", "mul", "div", "max"}

func (op BinaryOp) String() string {
	if op >= 0 && op < binaryOpCount {
		return binaryOpNames[op]
	}
	return fmt.Sprintf("BinaryOp(%d)", int(op))
}

// ReduceOp is a reduction over the axes where the output shape has size 1.
type ReduceOp int

// The reductions.
const (
	ReduceSum ReduceOp = iota
	ReduceMax
	reduceOpCount
)

func (op ReduceOp) String() string {
	switch op {
	case ReduceSum:
		return "sum"
	case ReduceMax:
		return "max"
	}
	return fmt.Sprintf("ReduceOp(%d)", int(op))
}

// GemmArgs describes a batch of row-major GEMMs
// C_i = alpha*op(A_i)*op(B_i) + beta*C_i, i < Batch, where X_i starts at
// OffX + i*StrideX in its buffer (Batch 0 means 1).
type GemmArgs struct {
	TransA, TransB     bool
	M, N, K            int
	Alpha, Beta        float32
	OffA, Lda, StrideA int
	OffB, Ldb, StrideB int
	OffC, Ldc, StrideC int
	Batch              int
}

// BatchNormArgs describes batch normalisation of x viewed as [N, C, HW]
// (HW = 1 for BatchNorm1d over [N, C]), as PyTorch's BatchNorm1d/2d.
type BatchNormArgs struct {
	N, C, HW int
	Eps      float32
	// Training normalises with the batch statistics, stores the batch mean
	// and 1/sqrt(var+eps) in SaveMean and SaveInvStd, and updates the running
	// averages: r = (1-Momentum)*r + Momentum*stat, with the unbiased variance
	// for RunVar. Otherwise the running averages normalise.
	Training bool
	Momentum float32
}

// AdamArgs are the hyper-parameters of one Adam update at step Step (from
// 1), as torch.optim.Adam without amsgrad.
type AdamArgs struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	Step                               int
}

// Backend runs the primitive kernels that everything above tensor/ is built
// from. A backend implements all of them: there is no silent per-op fallback.
// The conformance suite in tensor/backendtest checks an implementation.
type Backend interface {
	// Name identifies the backend and its device, e.g. "cpu (avx2fma)".
	Name() string
	// Alloc returns a zeroed buffer of n values.
	Alloc(n int) Buffer
	// Upload copies src into dst[off:off+len(src)].
	Upload(dst Buffer, off int, src []float32)
	// Download copies src[off:off+len(dst)] into dst.
	Download(dst []float32, src Buffer, off int)
	// Gemm runs a (batched) matrix product; see GemmArgs.
	Gemm(args GemmArgs, a, b, c Buffer)
	// Im2col fills the column matrix of a convolution (see ConvGeom) from
	// a batch of images; Col2im adds a column matrix back into the images.
	Im2col(g ConvGeom, img, col Buffer)
	Col2im(g ConvGeom, col, img Buffer)
	// Map sets y = op(x; alpha) elementwise; y may be x.
	Map(op MapOp, alpha float32, x, y Buffer)
	// MapBackward sets dx = dy * op'(x) given the input x and output y of Map.
	MapBackward(op MapOp, alpha float32, x, y, dy, dx Buffer)
	// Binary sets z = op(x, y) with NumPy broadcasting of the shapes of x and
	// y to the shape of z (shapes of equal rank; size-1 axes broadcast).
	Binary(op BinaryOp, x Buffer, xShape []int, y Buffer, yShape []int, z Buffer, zShape []int)
	// Reduce reduces x of shape xShape to y of shape yShape, which is xShape
	// with some axes set to 1: those are the axes reduced.
	Reduce(op ReduceOp, x Buffer, xShape []int, y Buffer, yShape []int)
	// BatchNorm normalises x into y per channel (see BatchNormArgs), with
	// affine parameters gamma, beta of length C.
	BatchNorm(args BatchNormArgs, x, gamma, beta, runMean, runVar, saveMean, saveInvStd, y Buffer)
	// BatchNormBackward computes dx, dgamma and dbeta of a training-mode
	// BatchNorm from its saved statistics.
	BatchNormBackward(args BatchNormArgs, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta Buffer)
	// Adam updates parameters p in place from their gradient g and the
	// moment estimates m and v (all of one length), as torch.optim.Adam:
	// g += WeightDecay*p; m = Beta1*m + (1-Beta1)*g;
	// v = Beta2*v + (1-Beta2)*g*g;
	// p -= LR/(1-Beta1^Step) * m/(sqrt(v)/sqrt(1-Beta2^Step) + Eps).
	Adam(args AdamArgs, p, g, m, v Buffer)
	// Sync waits until all submitted work is done and reports a device error.
	Sync() error
}

// Opener opens a backend, or says why it cannot (no device, no driver).
type Opener func() (Backend, error)

var (
	registryMu sync.Mutex
	registry   = map[string]Opener{}
)

// Register makes a backend available to Open under name. Backends register
// themselves from init functions, as database/sql drivers do; registering a
// name twice panics.
func Register(name string, open Opener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("tensor: Register called twice for backend " + name)
	}
	registry[name] = open
}

// Backends lists the registered backend names, sorted.
func Backends() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open opens the named backend. "auto" tries every registered backend other
// than "cpu" in name order and takes the first that opens, falling back to
// the CPU; the returned note says what was chosen and why.
func Open(name string) (b Backend, note string, err error) {
	if name == "" {
		name = "auto"
	}
	if name != "auto" {
		registryMu.Lock()
		open, ok := registry[name]
		registryMu.Unlock()
		if !ok {
			return nil, "", fmt.Errorf("tensor: no backend %q (registered: %s)", name, strings.Join(Backends(), ", "))
		}
		b, err := open()
		if err != nil {
			return nil, "", fmt.Errorf("tensor: backend %q: %w", name, err)
		}
		return b, "requested " + name, nil
	}
	var reasons []string
	for _, n := range Backends() {
		if n == "cpu" {
			continue
		}
		registryMu.Lock()
		open := registry[n]
		registryMu.Unlock()
		b, err := open()
		if err == nil {
			return b, "auto: " + n + " opened", nil
		}
		reasons = append(reasons, n+": "+err.Error())
	}
	note = "auto: cpu"
	if len(reasons) > 0 {
		note += " (" + strings.Join(reasons, "; ") + ")"
	} else {
		note += " (no other backend registered)"
	}
	return CPU(), note, nil
}

// OpenDefault opens the backend named by HALO_BACKEND (cpu, vulkan or auto;
// auto when unset).
func OpenDefault() (Backend, string, error) {
	return Open(os.Getenv("HALO_BACKEND"))
}
