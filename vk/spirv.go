//go:build cgo && linux

package vk

import (
	"encoding/binary"
	"errors"
)

// pushConstantBytes reads the size of a SPIR-V module's push-constant
// block: the offset of its last member plus that member's size. Dispatch
// compares it with the parameters the Go side packs, so a kernel whose
// GLSL block and Go call disagree fails loudly instead of reading garbage.
// It returns 0 for a module without push constants.
func pushConstantBytes(raw []byte) (int, error) {
	if len(raw) < 20 || len(raw)%4 != 0 {
		return 0, errors.New("not SPIR-V")
	}
	w := make([]uint32, len(raw)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	const (
		opTypeInt, opTypeFloat, opTypeArray, opTypeStruct = 21, 22, 28, 30
		opConstant, opTypePointer, opVariable             = 43, 32, 59
		opDecorate, opMemberDecorate                      = 71, 72
		decArrayStride, decOffset                         = 6, 35
		storagePushConstant                               = 9
	)
	scalar := map[uint32]int{}        // type id -> bytes
	array := map[uint32][2]uint32{}   // type id -> element type, length id
	stride := map[uint32]int{}        // array type id -> stride
	constant := map[uint32]uint32{}   // id -> value
	members := map[uint32][]uint32{}  // struct id -> member types
	offsets := map[[2]uint32]uint32{} // (struct, member) -> offset
	pointee := map[uint32]uint32{}    // pointer type id -> type (push-constant pointers only)
	var block uint32
	for i := 5; i < len(w); {
		n, op := int(w[i]>>16), w[i]&0xffff
		if n == 0 || i+n > len(w) {
			return 0, errors.New("truncated SPIR-V")
		}
		a := w[i+1 : i+n]
		switch {
		case (op == opTypeInt || op == opTypeFloat) && len(a) >= 2:
			scalar[a[0]] = int(a[1]) / 8
		case op == opTypeArray && len(a) >= 3:
			array[a[0]] = [2]uint32{a[1], a[2]}
		case op == opConstant && len(a) >= 3:
			constant[a[1]] = a[2]
		case op == opTypeStruct && len(a) >= 1:
			members[a[0]] = append([]uint32(nil), a[1:]...)
		case op == opDecorate && len(a) >= 3 && a[1] == decArrayStride:
			stride[a[0]] = int(a[2])
		case op == opMemberDecorate && len(a) >= 4 && a[2] == decOffset:
			offsets[[2]uint32{a[0], a[1]}] = a[3]
		case op == opTypePointer && len(a) >= 3 && a[1] == storagePushConstant:
			pointee[a[0]] = a[2]
		case op == opVariable && len(a) >= 3 && a[2] == storagePushConstant:
			block = pointee[a[0]]
		}
		i += n
	}
	if block == 0 {
		return 0, nil
	}
	m := members[block]
	if len(m) == 0 {
		return 0, errors.New("push-constant block without members")
	}
	last := uint32(len(m) - 1)
	size, ok := scalar[m[last]]
	if arr, isArr := array[m[last]]; isArr {
		size, ok = stride[m[last]]*int(constant[arr[1]]), stride[m[last]] > 0
	}
	if !ok {
		return 0, errors.New("push-constant block ends in a member of unknown size")
	}
	return int(offsets[[2]uint32{block, last}]) + size, nil
}
