//go:build cgo && linux

package vk

import (
	"fmt"
	"unsafe"

	vkb "github.com/vulkan-go/vulkan"
)

// maxBatch is the number of commands after which a batch is submitted
// without waiting, so that the device starts while the host records more.
const maxBatch = 256

// slot is one command buffer with its fence and staging memory. Two slots
// alternate: the device runs one while the host records into the other.
type slot struct {
	cmd       vkb.CommandBuffer
	fence     vkb.Fence
	staging   *block
	head      int64 // bytes of staging used
	recording bool
	pending   bool
	commands  int
	keep      []*Buffer // buffers the recorded commands use
}

func (b *Backend) newSlot() (*slot, error) {
	cmds := make([]vkb.CommandBuffer, 1)
	if err := vkErr("vkAllocateCommandBuffers", vkb.AllocateCommandBuffers(b.d.dev, &vkb.CommandBufferAllocateInfo{
		SType:              vkb.StructureTypeCommandBufferAllocateInfo,
		CommandPool:        b.cmdPool,
		Level:              vkb.CommandBufferLevelPrimary,
		CommandBufferCount: 1,
	}, cmds)); err != nil {
		return nil, err
	}
	// One fence per slot for the backend's life: creating fences per
	// submit leaks memory in the binding.
	var f vkb.Fence
	if err := vkErr("vkCreateFence", vkb.CreateFence(b.d.dev, &vkb.FenceCreateInfo{SType: vkb.StructureTypeFenceCreateInfo}, nil, &f)); err != nil {
		return nil, err
	}
	return &slot{cmd: cmds[0], fence: f}, nil
}

func (s *slot) cmdPtr() unsafe.Pointer { return unsafe.Pointer(s.cmd) }

// begin returns the slot being recorded, starting one if needed.
func (b *Backend) begin() *slot {
	s := b.slots[b.cur]
	if s.recording {
		return s
	}
	b.wait(s)
	b.check(vkErr("vkBeginCommandBuffer", vkb.BeginCommandBuffer(s.cmd, &vkb.CommandBufferBeginInfo{
		SType: vkb.StructureTypeCommandBufferBeginInfo,
		Flags: vkb.CommandBufferUsageFlags(vkb.CommandBufferUsageOneTimeSubmitBit),
	})))
	s.recording = true
	return s
}

// submit sends the slot being recorded to the queue and moves to the other.
func (b *Backend) submit() {
	s := b.slots[b.cur]
	if !s.recording {
		return
	}
	b.check(vkErr("vkEndCommandBuffer", vkb.EndCommandBuffer(s.cmd)))
	s.recording = false
	b.check(vkErr("vkQueueSubmit", queueSubmit(unsafe.Pointer(b.d.queue), s.cmdPtr(), handle(s.fence))))
	s.pending = true
	b.cur = 1 - b.cur
}

// wait blocks until the slot's submitted work is done and recycles it.
func (b *Backend) wait(s *slot) {
	if !s.pending {
		return
	}
	b.check(vkErr("vkWaitForFences", vkb.WaitForFences(b.d.dev, 1, []vkb.Fence{s.fence}, vkb.True, ^uint64(0))))
	b.check(vkErr("vkResetFences", vkb.ResetFences(b.d.dev, 1, []vkb.Fence{s.fence})))
	b.check(vkErr("vkResetCommandBuffer", vkb.ResetCommandBuffer(s.cmd, 0)))
	s.pending = false
	s.commands = 0
	s.head = 0
	clear(s.keep)
	s.keep = s.keep[:0]
}

// idle reports whether no work is recorded or in flight.
func (b *Backend) idle() bool {
	for _, s := range b.slots {
		if s.pending || (s.recording && s.commands > 0) {
			return false
		}
	}
	return len(b.running) == 0
}

// finish submits what is recorded and waits for everything, then returns
// the temporaries of host-buffer calls to the pool.
func (b *Backend) finish() {
	if s := b.slots[b.cur]; s.recording && s.commands > 0 {
		b.submit()
	}
	for _, s := range b.slots {
		b.wait(s)
	}
	for _, q := range b.running {
		q.wait()
	}
	b.running = b.running[:0]
	for _, t := range b.deferred {
		t.free()
	}
	clear(b.deferred)
	b.deferred = b.deferred[:0]
}

// dispatch records kernel k over groups workgroups with the given push
// constants and buffers.
func (b *Backend) dispatch(k kernel, push []uint32, gx, gy, gz int, bufs ...*Buffer) {
	if len(push)*4 > pushBytes {
		panic(fmt.Sprintf("vk: %s: %d bytes of push constants", k.spv, 4*len(push)))
	}
	if gx == 0 || gy == 0 || gz == 0 {
		return
	}
	p, err := b.pipelineFor(k)
	b.check(err)
	if 4*len(push) != p.pushBytes {
		panic(fmt.Sprintf("vk: %s: %d bytes of parameters for a push-constant block of %d", k.spv, 4*len(push), p.pushBytes))
	}
	set, err := b.descriptorSet(p.layout, bufs)
	b.check(err)
	var pc [pushBytes / 4]uint32
	copy(pc[:], push)
	if q := b.rec; q != nil {
		cmdDispatch(unsafe.Pointer(q.cmd), handle(p.pipe), handle(p.layout.pipe), handle(set), unsafe.Pointer(&pc[0]), 4*len(push), gx, gy, gz)
		q.keep = append(q.keep, bufs...)
		return
	}
	s := b.begin()
	cmdDispatch(s.cmdPtr(), handle(p.pipe), handle(p.layout.pipe), handle(set), unsafe.Pointer(&pc[0]), 4*len(push), gx, gy, gz)
	s.keep = append(s.keep, bufs...)
	s.commands++
	if s.commands >= maxBatch {
		b.submit()
	}
}

// grid spreads n workgroups over x and y within the device's limits.
func (b *Backend) grid(n int) (gx, gy int) {
	if n == 0 {
		return 0, 0
	}
	maxX := b.d.limits.MaxWorkgroupCount[0]
	if n <= maxX {
		return n, 1
	}
	gy = (n + maxX - 1) / maxX
	if gy > b.d.limits.MaxWorkgroupCount[1] {
		panic(fmt.Sprintf("vk: %d workgroups exceed the device's grid", n))
	}
	return maxX, gy
}

// dispatch1D runs one invocation per value of n, 256 per workgroup.
func (b *Backend) dispatch1D(k kernel, n int, push []uint32, bufs ...*Buffer) {
	gx, gy := b.grid((n + 255) / 256)
	b.dispatch(k, push, gx, gy, 1, bufs...)
}

// Sequence is a recorded list of kernels that Run replays without
// recording them again: a training step records once per batch shape.
// The buffers it uses stay allocated while the sequence is reachable.
type Sequence struct {
	b       *Backend
	cmd     vkb.CommandBuffer
	fence   vkb.Fence
	keep    []*Buffer
	pending bool
}

// Record runs f, which calls kernels of b, and captures those kernels in a
// Sequence instead of running them. Uploads and downloads are not part of a
// sequence and must not be called inside f.
func (b *Backend) Record(f func()) (seq *Sequence, err error) {
	if b.inRecord.Load() {
		return nil, fmt.Errorf("vk: Record inside Record")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rec != nil {
		return nil, fmt.Errorf("vk: Record inside Record")
	}
	cmds := make([]vkb.CommandBuffer, 1)
	if err := vkErr("vkAllocateCommandBuffers", vkb.AllocateCommandBuffers(b.d.dev, &vkb.CommandBufferAllocateInfo{
		SType:              vkb.StructureTypeCommandBufferAllocateInfo,
		CommandPool:        b.cmdPool,
		Level:              vkb.CommandBufferLevelPrimary,
		CommandBufferCount: 1,
	}, cmds)); err != nil {
		return nil, err
	}
	var fence vkb.Fence
	if err := vkErr("vkCreateFence", vkb.CreateFence(b.d.dev, &vkb.FenceCreateInfo{SType: vkb.StructureTypeFenceCreateInfo}, nil, &fence)); err != nil {
		return nil, err
	}
	q := &Sequence{b: b, cmd: cmds[0], fence: fence}
	if err := vkErr("vkBeginCommandBuffer", vkb.BeginCommandBuffer(q.cmd, &vkb.CommandBufferBeginInfo{
		SType: vkb.StructureTypeCommandBufferBeginInfo,
	})); err != nil {
		return nil, err
	}
	b.rec = q
	b.inRecord.Store(true)
	defer func() {
		b.inRecord.Store(false)
		b.rec = nil
		if r := recover(); r != nil {
			err = fmt.Errorf("vk: Record: %v", r)
			seq = nil
		}
	}()
	f()
	if err := vkErr("vkEndCommandBuffer", vkb.EndCommandBuffer(q.cmd)); err != nil {
		return nil, err
	}
	return q, nil
}

// Run submits the recorded kernels after everything submitted before;
// Sync (or a Download) waits for them.
func (q *Sequence) Run() {
	b := q.b
	defer b.enter()()
	q.wait()
	if s := b.slots[b.cur]; s.recording && s.commands > 0 {
		b.submit()
	}
	b.check(vkErr("vkQueueSubmit", queueSubmit(unsafe.Pointer(b.d.queue), unsafe.Pointer(q.cmd), handle(q.fence))))
	q.pending = true
	b.running = append(b.running, q)
}

func (q *Sequence) wait() {
	if !q.pending {
		return
	}
	b := q.b
	b.check(vkErr("vkWaitForFences", vkb.WaitForFences(b.d.dev, 1, []vkb.Fence{q.fence}, vkb.True, ^uint64(0))))
	b.check(vkErr("vkResetFences", vkb.ResetFences(b.d.dev, 1, []vkb.Fence{q.fence})))
	q.pending = false
}
