//go:build cgo && linux

package vk

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	vkb "github.com/vulkan-go/vulkan"
)

const (
	chunkBytes = 64 << 20 // a pool block; larger buffers get a block of their own
	allocAlign = 256      // sub-allocation alignment in bytes (vec4 loads, offsets)
)

const (
	memDeviceLocal  = vkb.MemoryPropertyFlags(vkb.MemoryPropertyDeviceLocalBit)
	memHostVisible  = vkb.MemoryPropertyFlags(vkb.MemoryPropertyHostVisibleBit)
	memHostCoherent = vkb.MemoryPropertyFlags(vkb.MemoryPropertyHostCoherentBit)
	memHostCached   = vkb.MemoryPropertyFlags(vkb.MemoryPropertyHostCachedBit)
)

// memPref is one entry of a ranked list: a memory type with all the flags
// of want and none of avoid.
type memPref struct{ want, avoid vkb.MemoryPropertyFlags }

// pickMemory returns the first memory type allowed by bits that satisfies
// the earliest entry of ranked it can, or -1.
func pickMemory(props *vkb.PhysicalDeviceMemoryProperties, bits uint32, ranked []memPref) int {
	for _, p := range ranked {
		for t := 0; t < int(props.MemoryTypeCount); t++ {
			f := props.MemoryTypes[t].PropertyFlags
			if bits&(1<<t) != 0 && f&p.want == p.want && f&p.avoid == 0 {
				return t
			}
		}
	}
	return -1
}

// Ranked memory type lists. Storage is device-local: on discrete GPUs
// preferably not host-visible (that is the small BAR window, or memory the
// CPU reads slowly), on devices that share memory with the host (integrated
// GPUs, CPU implementations) preferably host-visible, so transfers are
// plain copies. Staging is host-visible and coherent, preferably uncached
// (write-combined); readback prefers host-cached memory, which the CPU
// reads at full speed.
var (
	rankStorageShared = []memPref{{memDeviceLocal | memHostVisible | memHostCoherent, 0}, {memDeviceLocal, 0}, {0, 0}}
	rankStorage       = []memPref{{memDeviceLocal, memHostVisible}, {memDeviceLocal, 0}, {0, 0}}
	rankStaging       = []memPref{{memHostVisible | memHostCoherent, memHostCached}, {memHostVisible | memHostCoherent, 0}}
	rankReadback      = []memPref{{memHostVisible | memHostCoherent | memHostCached, 0}, {memHostVisible | memHostCoherent, 0}}
)

// block is one VkBuffer with its own memory; a chunk of the pool or a
// staging buffer. mapped is set when the memory is host-visible.
type block struct {
	id     int
	buf    vkb.Buffer
	mem    vkb.DeviceMemory
	size   int64
	mapped unsafe.Pointer
	free   []span // free ranges, sorted by offset (pool chunks only)
}

type span struct{ off, size int64 }

func (d *device) newBlock(size int64, ranked []memPref, usage vkb.BufferUsageFlagBits) (*block, error) {
	var buf vkb.Buffer
	info := &vkb.BufferCreateInfo{
		SType:       vkb.StructureTypeBufferCreateInfo,
		Size:        vkb.DeviceSize(size),
		Usage:       vkb.BufferUsageFlags(usage),
		SharingMode: vkb.SharingModeExclusive,
	}
	if err := vkErr("vkCreateBuffer", vkb.CreateBuffer(d.dev, info, nil, &buf)); err != nil {
		return nil, err
	}
	var req vkb.MemoryRequirements
	vkb.GetBufferMemoryRequirements(d.dev, buf, &req)
	req.Deref()
	t := pickMemory(&d.memory, req.MemoryTypeBits, ranked)
	if t < 0 {
		vkb.DestroyBuffer(d.dev, buf, nil)
		return nil, fmt.Errorf("vk: no memory type for a buffer of %d bytes", size)
	}
	var mem vkb.DeviceMemory
	ainfo := &vkb.MemoryAllocateInfo{
		SType:           vkb.StructureTypeMemoryAllocateInfo,
		AllocationSize:  req.Size,
		MemoryTypeIndex: uint32(t),
	}
	if err := vkErr(fmt.Sprintf("vkAllocateMemory(%d bytes)", req.Size), vkb.AllocateMemory(d.dev, ainfo, nil, &mem)); err != nil {
		vkb.DestroyBuffer(d.dev, buf, nil)
		return nil, err
	}
	if err := vkErr("vkBindBufferMemory", vkb.BindBufferMemory(d.dev, buf, mem, 0)); err != nil {
		vkb.FreeMemory(d.dev, mem, nil)
		vkb.DestroyBuffer(d.dev, buf, nil)
		return nil, err
	}
	b := &block{buf: buf, mem: mem, size: size}
	if d.memory.MemoryTypes[t].PropertyFlags&memHostVisible != 0 {
		var p unsafe.Pointer
		if err := vkErr("vkMapMemory", vkb.MapMemory(d.dev, mem, 0, vkb.DeviceSize(vkb.WholeSize), 0, &p)); err != nil {
			vkb.FreeMemory(d.dev, mem, nil)
			vkb.DestroyBuffer(d.dev, buf, nil)
			return nil, err
		}
		b.mapped = p
	}
	return b, nil
}

func (d *device) freeBlock(b *block) {
	if b == nil {
		return
	}
	vkb.DestroyBuffer(d.dev, b.buf, nil)
	vkb.FreeMemory(d.dev, b.mem, nil)
}

// floats returns the mapped memory of b from byte off as n float32 values.
func (b *block) floats(off int64, n int) []float32 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Add(b.mapped, off)), n)
}

// pool sub-allocates device buffers from large blocks. Freed ranges return
// to their block; blocks are kept until the backend closes, because
// descriptor sets refer to them.
type pool struct {
	mu     sync.Mutex
	d      *device
	rank   []memPref
	blocks []*block
	limit  int64 // largest block: the device's storage-buffer range
	inUse  int64
}

const storageUsage = vkb.BufferUsageStorageBufferBit | vkb.BufferUsageTransferSrcBit | vkb.BufferUsageTransferDstBit

func roundUp(n, a int64) int64 { return (n + a - 1) / a * a }

func (p *pool) alloc(bytes int64) (*block, int64, int64, error) {
	size := roundUp(max(bytes, 4), allocAlign)
	if size > p.limit {
		return nil, 0, 0, fmt.Errorf("vk: buffer of %d bytes exceeds the device's storage-buffer range of %d", bytes, p.limit)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.blocks {
		if off, ok := b.take(size); ok {
			p.inUse += size
			return b, off, size, nil
		}
	}
	bsize := max(size, min(int64(chunkBytes), p.limit))
	b, err := p.d.newBlock(bsize, p.rank, storageUsage)
	if err != nil {
		return nil, 0, 0, err
	}
	b.id = len(p.blocks) + 1
	b.free = []span{{0, bsize}}
	p.blocks = append(p.blocks, b)
	off, _ := b.take(size)
	p.inUse += size
	return b, off, size, nil
}

// take carves size bytes from the first free range that holds them.
func (b *block) take(size int64) (int64, bool) {
	for i, s := range b.free {
		if s.size >= size {
			if s.size == size {
				b.free = append(b.free[:i], b.free[i+1:]...)
			} else {
				b.free[i] = span{s.off + size, s.size - size}
			}
			return s.off, true
		}
	}
	return 0, false
}

func (p *pool) release(b *block, off, size int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inUse -= size
	i := 0
	for i < len(b.free) && b.free[i].off < off {
		i++
	}
	b.free = append(b.free, span{})
	copy(b.free[i+1:], b.free[i:])
	b.free[i] = span{off, size}
	// Merge with the neighbours.
	if i+1 < len(b.free) && b.free[i].off+b.free[i].size == b.free[i+1].off {
		b.free[i].size += b.free[i+1].size
		b.free = append(b.free[:i+1], b.free[i+2:]...)
	}
	if i > 0 && b.free[i-1].off+b.free[i-1].size == b.free[i].off {
		b.free[i-1].size += b.free[i].size
		b.free = append(b.free[:i], b.free[i+1:]...)
	}
}

// Buffer is float32 memory on the device, a range of a pool block. It is
// returned to the pool when the garbage collector finds it unreachable; the
// kernels that use it keep it reachable until they have run.
type Buffer struct {
	n       int
	blk     *block
	off     int64 // bytes from the start of blk
	size    int64 // bytes reserved
	p       *pool
	cleanup runtime.Cleanup
	freed   bool // returned to the pool
	dying   bool // Free called; returned at the next wait
}

// Len returns the number of values the buffer holds.
func (b *Buffer) Len() int { return b.n }

// elemOff is the buffer's start in float32 values within its block.
func (b *Buffer) elemOff() uint32 { return uint32(b.off / 4) }

type released struct {
	p         *pool
	blk       *block
	off, size int64
}

func newBuffer(p *pool, n int) (*Buffer, error) {
	blk, off, size, err := p.alloc(int64(n) * 4)
	if err != nil {
		return nil, err
	}
	b := &Buffer{n: n, blk: blk, off: off, size: size, p: p}
	b.cleanup = runtime.AddCleanup(b, func(r released) { r.p.release(r.blk, r.off, r.size) }, released{p, blk, off, size})
	return b, nil
}

// free returns b to the pool now; the caller guarantees no pending work
// uses it.
func (b *Buffer) free() {
	if b.freed {
		return
	}
	b.freed = true
	b.cleanup.Stop()
	b.p.release(b.blk, b.off, b.size)
}
