//go:build cgo && linux

package vk

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	vkb "github.com/vulkan-go/vulkan"

	"github.com/halo-ml/halo/tensor"
)

const stagingBytes = 16 << 20 // per slot; larger uploads go through in pieces

// Backend runs tensor's kernels on one Vulkan device. Its methods may be
// called from several goroutines (tensor.Open hands the same backend to
// every caller); they run one at a time.
type Backend struct {
	mu       sync.Mutex
	inRecord atomic.Bool // Record holds mu while its function runs

	in   *instance
	d    *device
	pool *pool

	cmdPool   vkb.CommandPool
	slots     [2]*slot
	cur       int
	readback  *block
	rec       *Sequence   // the sequence being recorded, if any
	running   []*Sequence // submitted sequences not yet waited for
	deferred  []*Buffer   // temporaries freed at the next finish
	layouts   map[int]*layout
	modules   map[string]vkb.ShaderModule
	pipelines map[string]*pipeline
	sets      map[setKey]vkb.DescriptorSet
	descPool  vkb.DescriptorPool
	gemmTiles gemmTiles
	err       error // the first device error; Sync reports it

	forceStaging bool // tests: transfers through staging even where memory is mapped

	uploaded, downloaded atomic.Int64 // bytes moved between host and device
}

var (
	openOnce    sync.Once
	openBackend *Backend
	openErr     error
	instOnce    sync.Once
	inst        *instance
	instErr     error
)

func init() {
	tensor.Register("vulkan", func() (tensor.Backend, error) {
		b, err := Open()
		if err != nil {
			return nil, err
		}
		return b, nil
	})
}

// getInstance creates the process's instance once; the binding cannot be
// used at all after a failed initialisation, so the error is kept.
func getInstance() (*instance, error) {
	instOnce.Do(func() { inst, instErr = newInstance() })
	return inst, instErr
}

// Devices lists the Vulkan devices, or says why there are none.
func Devices() ([]DeviceInfo, error) {
	in, err := getInstance()
	if err != nil {
		return nil, err
	}
	return append([]DeviceInfo(nil), in.infos...), nil
}

// Open returns the backend on the device chosen as the package doc says.
// It opens the device once per process; later calls return the same
// backend, or the same error.
func Open() (*Backend, error) {
	openOnce.Do(func() { openBackend, openErr = open(os.Getenv("HALO_VK_DEVICE")) })
	return openBackend, openErr
}

func open(want string) (*Backend, error) {
	in, err := getInstance()
	if err != nil {
		return nil, err
	}
	i, err := in.choose(want)
	if err != nil {
		return nil, err
	}
	d, err := in.open(i)
	if err != nil {
		return nil, err
	}
	b := &Backend{
		in: in, d: d,
		layouts:   map[int]*layout{},
		modules:   map[string]vkb.ShaderModule{},
		pipelines: map[string]*pipeline{},
		sets:      map[setKey]vkb.DescriptorSet{},
	}
	rank := rankStorage
	if d.devType == vkb.PhysicalDeviceTypeIntegratedGpu || d.devType == vkb.PhysicalDeviceTypeCpu {
		rank = rankStorageShared
	}
	b.pool = &pool{d: d, rank: rank, limit: int64(d.limits.MaxStorageBufferRange) &^ (allocAlign - 1)}
	// Outputs go to locals: cgo rejects pointers into structs that hold Go pointers.
	var cp vkb.CommandPool
	if err := vkErr("vkCreateCommandPool", vkb.CreateCommandPool(d.dev, &vkb.CommandPoolCreateInfo{
		SType:            vkb.StructureTypeCommandPoolCreateInfo,
		Flags:            vkb.CommandPoolCreateFlags(vkb.CommandPoolCreateResetCommandBufferBit),
		QueueFamilyIndex: d.family,
	}, nil, &cp)); err != nil {
		return nil, err
	}
	b.cmdPool = cp
	for k := range b.slots {
		if b.slots[k], err = b.newSlot(); err != nil {
			return nil, err
		}
	}
	b.gemmTiles = chooseGemmTiles(d.limits)
	return b, nil
}

// Name names the backend and its device.
func (b *Backend) Name() string { return "vulkan (" + b.d.info.Name + ", " + b.d.info.Type + ")" }

// Device describes the device the backend runs on.
func (b *Backend) Device() DeviceInfo { return b.d.info }

// Limits returns the device limits the kernels were sized from.
func (b *Backend) Limits() Limits { return b.d.limits }

// enter serialises the entry points. Inside Record the recording
// goroutine holds the lock for the whole of its function, so the kernels
// that function calls do not take it again (and other goroutines must
// leave the backend alone meanwhile).
func (b *Backend) enter() func() {
	if b.inRecord.Load() {
		return func() {}
	}
	b.mu.Lock()
	return b.mu.Unlock
}

// check records the first device error and stops the call: a kernel that
// could not be recorded or submitted leaves results undefined.
func (b *Backend) check(err error) {
	if err == nil {
		return
	}
	if b.err == nil {
		b.err = err
	}
	panic(err)
}

// Sync waits for all submitted work and reports the first device error.
func (b *Backend) Sync() error {
	defer b.enter()()
	if b.err != nil {
		return b.err
	}
	b.finish()
	return b.err
}

// Alloc returns a zeroed device buffer of n values. It panics when the
// device is out of memory, as make does on the host.
func (b *Backend) Alloc(n int) tensor.Buffer {
	defer b.enter()()
	return b.alloc(n)
}

func (b *Backend) alloc(n int) *Buffer {
	if n < 0 {
		panic(fmt.Sprintf("vk: Alloc(%d)", n))
	}
	x := b.allocRaw(n)
	if x.blk.mapped != nil && b.idle() && !b.forceStaging {
		clear(x.blk.floats(x.off, n))
		return x
	}
	s := b.begin()
	vkb.CmdFillBuffer(s.cmd, x.blk.buf, vkb.DeviceSize(x.off), vkb.DeviceSize(x.size), 0)
	cmdBarrier(s.cmdPtr())
	s.keep = append(s.keep, x)
	s.commands++
	return x
}

// allocRaw returns a buffer with undefined contents.
func (b *Backend) allocRaw(n int) *Buffer {
	x, err := newBuffer(b.pool, n)
	if err != nil {
		b.check(err)
	}
	return x
}

// dev returns x as a buffer of this backend, panicking on a foreign one.
func (b *Backend) dev(op string, x tensor.Buffer) *Buffer {
	switch v := x.(type) {
	case *Buffer:
		if v.p != b.pool {
			panic("vk: " + op + ": buffer of another Vulkan backend")
		}
		if v.freed || v.dying {
			panic("vk: " + op + ": buffer used after it was freed")
		}
		return v
	case nil:
		return nil
	}
	panic(fmt.Sprintf("vk: %s: buffer of type %T belongs to another backend", op, x))
}

// Upload copies src into dst[off:off+len(src)].
func (b *Backend) Upload(dst tensor.Buffer, off int, src []float32) {
	defer b.enter()()
	if h, ok := dst.(tensor.HostBuffer); ok {
		b.finish()
		copy(h[off:off+len(src)], src)
		return
	}
	d := b.dev("Upload", dst)
	if off < 0 || off+len(src) > d.n {
		panic(fmt.Sprintf("vk: Upload: %d values at offset %d into a buffer of %d", len(src), off, d.n))
	}
	if b.rec != nil {
		panic("vk: Upload inside Record")
	}
	b.upload(d, off, src)
}

func (b *Backend) upload(d *Buffer, off int, src []float32) {
	if len(src) == 0 {
		return
	}
	b.uploaded.Add(int64(len(src)) * 4)
	if d.blk.mapped != nil && b.idle() && !b.forceStaging {
		copy(d.blk.floats(d.off+int64(off)*4, len(src)), src)
		return
	}
	for len(src) > 0 {
		s := b.begin()
		if s.staging == nil {
			st, err := b.d.newBlock(stagingBytes, rankStaging, vkb.BufferUsageTransferSrcBit)
			b.check(err)
			s.staging = st
		}
		room := int((s.staging.size - s.head) / 4)
		if room == 0 {
			b.submit()
			continue
		}
		n := min(room, len(src))
		copy(s.staging.floats(s.head, n), src[:n])
		cmdCopy(s.cmdPtr(), handle(s.staging.buf), handle(d.blk.buf), s.head, d.off+int64(off)*4, int64(n)*4)
		cmdBarrier(s.cmdPtr())
		s.head += int64(n) * 4
		s.keep = append(s.keep, d)
		s.commands++
		src, off = src[n:], off+n
	}
}

// Download copies src[off:off+len(dst)] into dst, after all work so far.
func (b *Backend) Download(dst []float32, src tensor.Buffer, off int) {
	defer b.enter()()
	if h, ok := src.(tensor.HostBuffer); ok {
		b.finish()
		copy(dst, h[off:off+len(dst)])
		return
	}
	s := b.dev("Download", src)
	if off < 0 || off+len(dst) > s.n {
		panic(fmt.Sprintf("vk: Download: %d values at offset %d from a buffer of %d", len(dst), off, s.n))
	}
	if b.rec != nil {
		panic("vk: Download inside Record")
	}
	b.download(dst, s, off)
}

func (b *Backend) download(dst []float32, src *Buffer, off int) {
	b.finish()
	if len(dst) == 0 {
		return
	}
	b.downloaded.Add(int64(len(dst)) * 4)
	if src.blk.mapped != nil && !b.forceStaging {
		copy(dst, src.blk.floats(src.off+int64(off)*4, len(dst)))
		return
	}
	for len(dst) > 0 {
		n := min(len(dst), stagingBytes/4)
		if b.readback == nil {
			rb, err := b.d.newBlock(stagingBytes, rankReadback, vkb.BufferUsageTransferDstBit)
			b.check(err)
			b.readback = rb
		}
		s := b.begin()
		cmdCopy(s.cmdPtr(), handle(src.blk.buf), handle(b.readback.buf), src.off+int64(off)*4, 0, int64(n)*4)
		cmdBarrier(s.cmdPtr())
		s.keep = append(s.keep, src)
		s.commands++
		b.finish()
		copy(dst[:n], b.readback.floats(0, n))
		dst, off = dst[n:], off+n
	}
}

// Zero sets every value of x to 0 with a fill command, cheaper than a
// kernel; it makes the backend a tensor.Zeroer, which device tapes use to
// clear the buffers they reuse.
func (b *Backend) Zero(x tensor.Buffer) {
	defer b.enter()()
	d := b.dev("Zero", x)
	if b.rec != nil {
		panic("vk: Zero inside Record")
	}
	if d == nil || d.n == 0 {
		return
	}
	s := b.begin()
	vkb.CmdFillBuffer(s.cmd, d.blk.buf, vkb.DeviceSize(d.off), vkb.DeviceSize(d.n*4), 0)
	cmdBarrier(s.cmdPtr())
	s.keep = append(s.keep, d)
	s.commands++
	if s.commands >= maxBatch {
		b.submit()
	}
}

var _ tensor.Zeroer = (*Backend)(nil)

// Transfers returns the bytes copied so far from the host to the device
// (Upload, and host operands of kernels) and back (Download, and host
// outputs of kernels), to see what crosses the bus.
func (b *Backend) Transfers() (up, down int64) {
	return b.uploaded.Load(), b.downloaded.Load()
}

// call adapts the operands of one kernel call: tensor.HostBuffer operands
// are copied to temporary device buffers, and outputs back afterwards.
type call struct {
	b     *Backend
	op    string
	hosts []hostOperand
}

type hostOperand struct {
	h   tensor.HostBuffer
	d   *Buffer
	out bool
}

func (b *Backend) call(op string) *call { return &call{b: b, op: op} }

// in returns an operand the kernel reads.
func (c *call) in(x tensor.Buffer) *Buffer { return c.operand(x, false) }

// out returns an operand the kernel writes (and may read).
func (c *call) out(x tensor.Buffer) *Buffer { return c.operand(x, true) }

func (c *call) operand(x tensor.Buffer, out bool) *Buffer {
	h, ok := x.(tensor.HostBuffer)
	if !ok {
		return c.b.dev(c.op, x)
	}
	if c.b.rec != nil {
		panic("vk: " + c.op + ": host buffers cannot be recorded in a sequence")
	}
	for i, t := range c.hosts { // the same host memory twice: one device copy
		if len(t.h) == len(h) && (len(h) == 0 || &t.h[0] == &h[0]) {
			c.hosts[i].out = c.hosts[i].out || out
			return t.d
		}
	}
	d := c.b.allocRaw(len(h))
	c.b.upload(d, 0, h)
	c.hosts = append(c.hosts, hostOperand{h, d, out})
	return d
}

// done copies host outputs back and schedules the temporaries for release.
func (c *call) done() {
	synced := false
	for _, o := range c.hosts {
		if o.out {
			if !synced {
				c.b.finish()
				synced = true
			}
			c.b.download(o.h, o.d, 0)
		}
	}
	for _, o := range c.hosts {
		c.b.deferred = append(c.b.deferred, o.d)
	}
}

// Free returns x to the pool once the work submitted so far is done, for
// callers that know when a buffer dies (a tape recycling its activations);
// other buffers go back when the garbage collector finds them unreachable.
// Using x afterwards panics, and x must not be used by a recorded
// Sequence that runs again.
func (b *Backend) Free(x tensor.Buffer) {
	defer b.enter()()
	d := b.dev("Free", x)
	if d == nil {
		return
	}
	if b.rec != nil {
		panic("vk: Free inside Record")
	}
	d.dying = true
	if b.idle() {
		d.free()
		return
	}
	b.deferred = append(b.deferred, d)
}

// Close waits until the device is idle and reports the first device error.
// The device and its memory stay with the process: Open returns the same
// backend again.
func (b *Backend) Close() error {
	if b == nil || b.d == nil {
		return errors.New("vk: Close of an unopened backend")
	}
	err := b.Sync()
	defer b.enter()()
	vkb.DeviceWaitIdle(b.d.dev)
	return err
}
