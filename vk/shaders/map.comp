#version 450
// y = op(x; alpha) elementwise (tensor.MapOp); with BACKWARD defined,
// dx = dy * op'(x) from the input x and output y of the forward map.
#include "common.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const int OP = 0; // tensor.MapOp

layout(std430, binding = 0) readonly buffer X { float x[]; };
#ifdef BACKWARD
layout(std430, binding = 1) readonly buffer Y { float y[]; };
layout(std430, binding = 2) readonly buffer DY { float dy[]; };
layout(std430, binding = 3) writeonly buffer DX { float dx[]; };
#else
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
#endif

layout(push_constant) uniform P {
	uint n;
	float alpha;
	uint offX;
	uint offY;
#ifdef BACKWARD
	uint offDY;
	uint offDX;
#endif
} p;

float forward(float v, float a) {
	switch (OP) {
	case 0: return v;
	case 1: return -v;
	case 2: return a * v;
	case 3: return v + a;
	case 4: return v * v;
	case 5: return (isnan(v) || v > 0.0) ? v : 0.0;
	case 6: return v > 0.0 ? v : a * v;
	case 7: return tanhAcc(v);
	case 8: return sigmoidAcc(v);
	case 9: return expAcc(v);
	case 10: return logAcc(v);
	case 11: return sqrtAcc(v);
	case 12: return abs(v);
	case 13: return powAcc(v, a);
	}
	return uintBitsToFloat(0x7fc00000u);
}

#ifdef BACKWARD
// The cases follow the CPU backend's mapBackwardRange: which of x and y
// each derivative reads matters, because the other may be stale.
float backward(uint i, float g, float a) {
	switch (OP) {
	case 0: case 3: return g;
	case 1: return -g;
	case 2: return g * a;
	case 4: return 2.0 * x[p.offX + i] * g;
	case 5: return x[p.offX + i] <= 0.0 ? 0.0 : g;
	case 6: return x[p.offX + i] > 0.0 ? g : g * a;
	case 7: { float v = y[p.offY + i]; return g * (1.0 - v * v); }
	case 8: { float v = y[p.offY + i]; return g * v * (1.0 - v); }
	case 9: return g * y[p.offY + i];
	case 10: return div(g, x[p.offX + i]);
	case 11: return div(g * 0.5, y[p.offY + i]);
	case 12: { float v = x[p.offX + i]; return v > 0.0 ? g : (v < 0.0 ? -g : 0.0); }
	case 13: return g * a * powAcc(x[p.offX + i], a - 1.0);
	}
	return uintBitsToFloat(0x7fc00000u);
}
#endif

void main() {
	uint i = flatIndex(256);
	if (i >= p.n) {
		return;
	}
#ifdef BACKWARD
	dx[p.offDX + i] = backward(i, dy[p.offDY + i], p.alpha);
#else
	y[p.offY + i] = forward(x[p.offX + i], p.alpha);
#endif
}
