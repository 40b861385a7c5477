#version 450
// One Adam step (tensor.AdamArgs), in float32 per element as the CPU
// backend; the bias corrections come from the host in float64 then rounded.
#include "common.glsl"

layout(local_size_x = 256) in;

layout(std430, binding = 0) buffer Pm { float prm[]; };
layout(std430, binding = 1) readonly buffer G { float g[]; };
layout(std430, binding = 2) buffer M { float m[]; };
layout(std430, binding = 3) buffer V { float v[]; };

layout(push_constant) uniform P {
	uint n;
	uint offP, offG, offM, offV;
	float stepSize, bc2Sqrt, b1, b2, c1, c2, wd, eps;
} p;

void main() {
	uint i = flatIndex(256);
	if (i >= p.n) {
		return;
	}
	float gi = g[p.offG + i];
	float pi = prm[p.offP + i];
	if (p.wd != 0.0) {
		gi += p.wd * pi;
	}
	float mi = m[p.offM + i] * p.b1 + p.c1 * gi;
	float vi = v[p.offV + i] * p.b2 + p.c2 * gi * gi;
	m[p.offM + i] = mi;
	v[p.offV + i] = vi;
	float denom = div(sqrtAcc(vi), p.bc2Sqrt) + p.eps;
	prm[p.offP + i] = pi - p.stepSize * div(mi, denom);
}
