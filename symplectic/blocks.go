package symplectic

import "fmt"

// Blocks is a block-diagonal matrix diag(B_1, ..., B_K) over K subspaces of
// phase space (in HALO, one operator per action, each acting on its own
// subspace), stored block by block so that exponentials and products never
// form the big matrix. A state of the full space has Dim() entries, block k
// owning entries Offset(k) .. Offset(k)+Size(k)-1. Batches of states are
// row-major: row r of a batch×Dim() slice is one state.
//
// A Blocks value caches workspaces and is not safe for concurrent use.
type Blocks struct {
	sizes []int
	offs  []int
	data  [][]float64
	dim   int

	ws  map[int]*Workspace
	tmp []float64
}

// NewBlocks returns zero blocks of the given orders. It panics unless there
// is at least one block and every order is at least 1.
func NewBlocks(sizes ...int) *Blocks {
	if len(sizes) == 0 {
		panic("symplectic: NewBlocks: no blocks")
	}
	b := &Blocks{sizes: append([]int(nil), sizes...)}
	for k, n := range sizes {
		if n < 1 {
			panic(fmt.Sprintf("symplectic: NewBlocks: block %d has order %d < 1", k, n))
		}
		b.offs = append(b.offs, b.dim)
		b.data = append(b.data, make([]float64, n*n))
		b.dim += n
	}
	return b
}

// K returns the number of blocks.
func (b *Blocks) K() int { return len(b.sizes) }

// Dim returns the order of the whole block-diagonal matrix.
func (b *Blocks) Dim() int { return b.dim }

// Size returns the order of block k.
func (b *Blocks) Size(k int) int { return b.sizes[k] }

// Offset returns the index of block k's first row (and column) in the whole
// matrix.
func (b *Blocks) Offset(k int) int { return b.offs[k] }

// Block returns block k as a row-major Size(k)×Size(k) slice that aliases
// b's storage: writing to it sets the block.
func (b *Blocks) Block(k int) []float64 { return b.data[k] }

func (b *Blocks) sameShape(op, name string, o *Blocks) {
	if len(o.sizes) != len(b.sizes) {
		panic(fmt.Sprintf("symplectic: Blocks.%s: receiver has %d blocks %v, %s has %d blocks %v", op, len(b.sizes), b.sizes, name, len(o.sizes), o.sizes))
	}
	for k := range b.sizes {
		if b.sizes[k] != o.sizes[k] {
			panic(fmt.Sprintf("symplectic: Blocks.%s: receiver has block orders %v, %s has %v", op, b.sizes, name, o.sizes))
		}
	}
}

func (b *Blocks) workspace(n int) *Workspace {
	if b.ws == nil {
		b.ws = map[int]*Workspace{}
	}
	w := b.ws[n]
	if w == nil {
		w = NewWorkspace(n)
		b.ws[n] = w
	}
	return w
}

// Exp sets every block of b to the exponential of the matching block of h
// (b may be h). It returns the first error, naming the block, of the
// Workspace.Exp calls (non-finite input or overflow); all blocks are
// computed regardless.
func (b *Blocks) Exp(h *Blocks) error {
	b.sameShape("Exp", "h", h)
	var first error
	for k, n := range b.sizes {
		if err := b.workspace(n).Exp(b.data[k], h.data[k]); err != nil && first == nil {
			first = fmt.Errorf("block %d: %w", k, err)
		}
	}
	return first
}

// ExpAdjoint sets block k of b to L(h_kᵀ, g_k), the gradient with respect
// to h_k of <g_k, exp(h_k)>: back-propagation through Exp, with g holding
// the gradients with respect to the exponentials. Errors are as for Exp.
func (b *Blocks) ExpAdjoint(h, g *Blocks) error {
	b.sameShape("ExpAdjoint", "h", h)
	b.sameShape("ExpAdjoint", "g", g)
	var first error
	for k, n := range b.sizes {
		if err := b.workspace(n).ExpAdjoint(nil, b.data[k], h.data[k], g.data[k]); err != nil && first == nil {
			first = fmt.Errorf("block %d: %w", k, err)
		}
	}
	return first
}

func (b *Blocks) checkBatch(op string, batch int, bufs ...[]float64) {
	if batch < 0 {
		panic(fmt.Sprintf("symplectic: Blocks.%s: batch = %d < 0", op, batch))
	}
	for _, s := range bufs {
		if len(s) != batch*b.dim {
			panic(fmt.Sprintf("symplectic: Blocks.%s: slice of length %d, want batch×Dim = %d×%d", op, len(s), batch, b.dim))
		}
	}
}

func (b *Blocks) scratch(n int) []float64 {
	if cap(b.tmp) < n {
		b.tmp = make([]float64, n)
	}
	return b.tmp[:n]
}

// Apply sets dst = B src for a batch of states: row r of dst is the
// block-diagonal matrix times row r of src. dst and src are batch×Dim()
// row-major and must not overlap.
func (b *Blocks) Apply(dst, src []float64, batch int) {
	b.checkBatch("Apply", batch, dst, src)
	if batch == 0 {
		return
	}
	for k, n := range b.sizes {
		// Rows are states, so dst_rows = src_rows · B_kᵀ.
		bt := b.scratch(n * n)
		transposeInto(bt, b.data[k], n)
		o := b.offs[k]
		gemm(batch, n, n, src[o:], b.dim, bt, n, dst[o:], b.dim, false)
	}
}

// ApplyTranspose sets dst = Bᵀ src for a batch of states (the
// back-propagation of Apply to its input). Shapes as for Apply.
func (b *Blocks) ApplyTranspose(dst, src []float64, batch int) {
	b.checkBatch("ApplyTranspose", batch, dst, src)
	if batch == 0 {
		return
	}
	for k, n := range b.sizes {
		o := b.offs[k]
		gemm(batch, n, n, src[o:], b.dim, b.data[k], n, dst[o:], b.dim, false)
	}
}

// AddOuter adds to every block k the sum over the batch of dOut_r,k ⊗ src_r,k
// (the parts of rows r in block k): the gradient of a loss with respect to
// the blocks of B, given dOut, its gradient with respect to Apply's output,
// and src, Apply's input. Shapes as for Apply.
func (b *Blocks) AddOuter(dOut, src []float64, batch int) {
	b.checkBatch("AddOuter", batch, dOut, src)
	if batch == 0 {
		return
	}
	for k, n := range b.sizes {
		o := b.offs[k]
		// B_k += dOutᵀ (n×batch) · src (batch×n); gather dOutᵀ first.
		dt := b.scratch(n * batch)
		for r := 0; r < batch; r++ {
			for i := 0; i < n; i++ {
				dt[i*batch+r] = dOut[r*b.dim+o+i]
			}
		}
		gemm(n, n, batch, dt, batch, src[o:], b.dim, b.data[k], n, true)
	}
}
