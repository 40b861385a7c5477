//go:build cgo && linux

package vk

import (
	"embed"
	"encoding/binary"
	"fmt"
	"strings"
	"unsafe"

	vkb "github.com/vulkan-go/vulkan"
)

// The SPIR-V of every kernel variant, compiled from shaders/ by
// `go generate` (shaders/gen.go) and committed.
//
//go:embed spv/*.spv
var spvFS embed.FS

// pushBytes is the push-constant range every pipeline layout declares: the
// minimum every device offers, and enough for every kernel's parameters.
const pushBytes = 128

// kernel names a pipeline: a SPIR-V variant, its number of storage-buffer
// bindings and its specialisation constants (ids 0, 1, ... in order).
type kernel struct {
	spv      string
	bindings int
	spec     []uint32
}

func (k kernel) key() string {
	var s strings.Builder
	s.WriteString(k.spv)
	for _, v := range k.spec {
		fmt.Fprintf(&s, ",%d", v)
	}
	return s.String()
}

// layout is the descriptor-set and pipeline layout shared by all kernels
// with the same number of bindings.
type layout struct {
	id       int
	bindings int
	set      vkb.DescriptorSetLayout
	pipe     vkb.PipelineLayout
}

type pipeline struct {
	pipe      vkb.Pipeline
	layout    *layout
	pushBytes int // the shader's push-constant block
}

// handle converts a non-dispatchable Vulkan handle for the C hot path.
func handle[T any](h T) uint64 {
	return uint64(uintptr(*(*unsafe.Pointer)(unsafe.Pointer(&h))))
}

// fromHandle is the inverse of handle.
func fromHandle[T any](h uint64) T {
	var v T
	*(*uint64)(unsafe.Pointer(&v)) = h
	return v
}

func (b *Backend) layoutFor(n int) (*layout, error) {
	defer withoutGC()()
	if l := b.layouts[n]; l != nil {
		return l, nil
	}
	binds := make([]vkb.DescriptorSetLayoutBinding, n)
	for i := range binds {
		binds[i] = vkb.DescriptorSetLayoutBinding{
			Binding:         uint32(i),
			DescriptorType:  vkb.DescriptorTypeStorageBuffer,
			DescriptorCount: 1,
			StageFlags:      vkb.ShaderStageFlags(vkb.ShaderStageComputeBit),
		}
	}
	var set vkb.DescriptorSetLayout
	if err := vkErr("vkCreateDescriptorSetLayout", vkb.CreateDescriptorSetLayout(b.d.dev, &vkb.DescriptorSetLayoutCreateInfo{
		SType:        vkb.StructureTypeDescriptorSetLayoutCreateInfo,
		BindingCount: uint32(n),
		PBindings:    binds,
	}, nil, &set)); err != nil {
		return nil, err
	}
	var pl vkb.PipelineLayout
	if err := vkErr("vkCreatePipelineLayout", vkb.CreatePipelineLayout(b.d.dev, &vkb.PipelineLayoutCreateInfo{
		SType:                  vkb.StructureTypePipelineLayoutCreateInfo,
		SetLayoutCount:         1,
		PSetLayouts:            []vkb.DescriptorSetLayout{set},
		PushConstantRangeCount: 1,
		PPushConstantRanges: []vkb.PushConstantRange{{
			StageFlags: vkb.ShaderStageFlags(vkb.ShaderStageComputeBit),
			Size:       pushBytes,
		}},
	}, nil, &pl)); err != nil {
		return nil, err
	}
	l := &layout{id: n, bindings: n, set: set, pipe: pl}
	b.layouts[n] = l
	return l, nil
}

func (b *Backend) module(name string) (vkb.ShaderModule, int, error) {
	raw, err := spvFS.ReadFile("spv/" + name + ".spv")
	if err != nil {
		return nil, 0, fmt.Errorf("vk: no embedded SPIR-V for %s: %w", name, err)
	}
	if len(raw)%4 != 0 || len(raw) < 20 || binary.LittleEndian.Uint32(raw) != 0x07230203 {
		return nil, 0, fmt.Errorf("vk: embedded %s.spv is not SPIR-V", name)
	}
	push, err := pushConstantBytes(raw)
	if err != nil {
		return nil, 0, fmt.Errorf("vk: %s.spv: %w", name, err)
	}
	if m, ok := b.modules[name]; ok {
		return m, push, nil
	}
	defer withoutGC()()
	// The code goes to C memory: the binding hands the driver a pointer to
	// the slice's data, which a Go slice would not keep alive during the call.
	mem := cBytes(raw)
	defer cFree(mem)
	code := unsafe.Slice((*uint32)(mem), len(raw)/4)
	for i := range code {
		code[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	var m vkb.ShaderModule
	if err := vkErr("vkCreateShaderModule "+name, vkb.CreateShaderModule(b.d.dev, &vkb.ShaderModuleCreateInfo{
		SType:    vkb.StructureTypeShaderModuleCreateInfo,
		CodeSize: uint(len(raw)),
		PCode:    code,
	}, nil, &m)); err != nil {
		return nil, 0, err
	}
	b.modules[name] = m
	return m, push, nil
}

// pipelineFor builds the pipeline of k on first use.
func (b *Backend) pipelineFor(k kernel) (*pipeline, error) {
	key := k.key()
	if p := b.pipelines[key]; p != nil {
		return p, nil
	}
	l, err := b.layoutFor(k.bindings)
	if err != nil {
		return nil, err
	}
	m, push, err := b.module(k.spv)
	if err != nil {
		return nil, err
	}
	pipe, r := createPipeline(unsafe.Pointer(b.d.dev), handle(m), handle(l.pipe), k.spec)
	if err := vkErr("vkCreateComputePipelines "+key, r); err != nil {
		return nil, err
	}
	p := &pipeline{pipe: fromHandle[vkb.Pipeline](pipe), layout: l, pushBytes: push}
	b.pipelines[key] = p
	return p, nil
}

// setKey identifies a descriptor set: a layout and the blocks bound.
type setKey struct {
	layout int
	blocks [10]int
}

// descriptorSet returns a set binding whole blocks, made once per
// combination: kernels address their buffers by offsets in push constants,
// so the few large blocks of the pool need few sets.
func (b *Backend) descriptorSet(l *layout, bufs []*Buffer) (vkb.DescriptorSet, error) {
	key := setKey{layout: l.id}
	for i, x := range bufs {
		key.blocks[i] = x.blk.id
	}
	if s, ok := b.sets[key]; ok {
		return s, nil
	}
	defer withoutGC()() // new sets are rare: once per combination of blocks
	var set vkb.DescriptorSet
	for attempt := 0; ; attempt++ {
		if b.descPool == nil {
			var dp vkb.DescriptorPool
			if err := vkErr("vkCreateDescriptorPool", vkb.CreateDescriptorPool(b.d.dev, &vkb.DescriptorPoolCreateInfo{
				SType:         vkb.StructureTypeDescriptorPoolCreateInfo,
				MaxSets:       1024,
				PoolSizeCount: 1,
				PPoolSizes:    []vkb.DescriptorPoolSize{{Type: vkb.DescriptorTypeStorageBuffer, DescriptorCount: 1024 * 10}},
			}, nil, &dp)); err != nil {
				return nil, err
			}
			b.descPool = dp
		}
		r := vkb.AllocateDescriptorSets(b.d.dev, &vkb.DescriptorSetAllocateInfo{
			SType:              vkb.StructureTypeDescriptorSetAllocateInfo,
			DescriptorPool:     b.descPool,
			DescriptorSetCount: 1,
			PSetLayouts:        []vkb.DescriptorSetLayout{l.set},
		}, &set)
		if r == vkb.Success {
			break
		}
		if attempt > 0 || (r != vkb.ErrorOutOfPoolMemory && r != vkb.ErrorFragmentedPool) {
			return nil, vkErr("vkAllocateDescriptorSets", r)
		}
		b.descPool = nil // full: the next pool takes over, sets already made stay valid
	}
	handles := make([]uint64, len(bufs))
	for i, x := range bufs {
		handles[i] = handle(x.blk.buf)
	}
	if err := bindBuffers(unsafe.Pointer(b.d.dev), handle(set), handles); err != nil {
		return nil, err
	}
	b.sets[key] = set
	return set, nil
}
