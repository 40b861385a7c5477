#version 450
// y = reduction of x over the axes where y has size 1 (tensor.ReduceOp).
// The host collapses x to at most MAXR axes, alternately kept and reduced;
// mask bit d says axis d is reduced. Each output value is reduced by one
// workgroup (PER_GROUP) or, when reductions are short, by one invocation.
#include "common.glsl"

#define MAXR 6

layout(local_size_x_id = 1) in;
layout(constant_id = 0) const int OP = 0; // 0 sum, 1 max
layout(constant_id = 1) const uint WG = 256;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform P {
	uint nOut;
	uint nRed;
	uint rank;
	uint mask;
	uint offX;
	uint offY;
	uint shape[MAXR];
} p;

float ident() {
	return OP == 0 ? 0.0 : uintBitsToFloat(0xff800000u);
}

float combine(float a, float b) {
	return OP == 0 ? a + b : maxNaN(a, b);
}

// base is the offset in x of output value j; red that of reduced index r.
uint offsetOf(uint j, bool reduced) {
	uint off = 0, stride = 1;
	for (int d = int(p.rank) - 1; d >= 0; d--) {
		if ((((p.mask >> d) & 1u) != 0u) == reduced) {
			off += (j % p.shape[d]) * stride;
			j /= p.shape[d];
		}
		stride *= p.shape[d];
	}
	return off;
}

#ifdef PER_GROUP
shared float part[WG];

void main() {
	uint j = flatGroup();
	if (j >= p.nOut) {
		return;
	}
	uint base = p.offX + offsetOf(j, false);
	float acc = ident();
	for (uint r = gl_LocalInvocationID.x; r < p.nRed; r += WG) {
		acc = combine(acc, x[base + offsetOf(r, true)]);
	}
	part[gl_LocalInvocationID.x] = acc;
	barrier();
	for (uint s = WG / 2; s > 0; s >>= 1) {
		if (gl_LocalInvocationID.x < s) {
			part[gl_LocalInvocationID.x] = combine(part[gl_LocalInvocationID.x], part[gl_LocalInvocationID.x + s]);
		}
		barrier();
	}
	if (gl_LocalInvocationID.x == 0) {
		y[p.offY + j] = part[0];
	}
}
#else
void main() {
	uint j = flatIndex(WG);
	if (j >= p.nOut) {
		return;
	}
	uint base = p.offX + offsetOf(j, false);
	float acc = ident();
	for (uint r = 0; r < p.nRed; r++) {
		acc = combine(acc, x[base + offsetOf(r, true)]);
	}
	y[p.offY + j] = acc;
}
#endif
