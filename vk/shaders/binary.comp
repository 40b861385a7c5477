#version 450
// z = op(x, y) with broadcasting (tensor.BinaryOp). The host collapses the
// shapes to at most MAXR axes; sx and sy are the element strides of x and y
// over the shape of z, 0 along broadcast axes.
#include "common.glsl"

#define MAXR 6

layout(local_size_x = 256) in;
layout(constant_id = 0) const int OP = 0; // tensor.BinaryOp

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Y { float y[]; };
layout(std430, binding = 2) writeonly buffer Z { float z[]; };

layout(push_constant) uniform P {
	uint n;
	uint rank;
	uint offX;
	uint offY;
	uint offZ;
	uint shape[MAXR];
	uint sx[MAXR];
	uint sy[MAXR];
} p;

void main() {
	uint i = flatIndex(256);
	if (i >= p.n) {
		return;
	}
	uint xi = p.offX, yi = p.offY;
	uint rest = i;
	for (int d = int(p.rank) - 1; d >= 0; d--) {
		uint c = rest % p.shape[d];
		rest /= p.shape[d];
		xi += c * p.sx[d];
		yi += c * p.sy[d];
	}
	float a = x[xi], b = y[yi];
	float v;
	switch (OP) {
	case 0: v = a + b; break;
	case 1: v = a - b; break;
	case 2: v = a * b; break;
	case 3: v = div(a, b); break;
	default: v = maxNaN(a, b); break;
	}
	z[p.offZ + i] = v;
}
