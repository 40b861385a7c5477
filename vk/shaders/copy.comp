#version 450
// dst[dstOff + sum(i_d * ds_d)] = src[srcOff + sum(i_d * ss_d)] over an
// index space of up to MAXR axes: permutations, slices, concatenation and
// broadcasts (stride 0) as one kernel. The host collapses the axes.
#include "common.glsl"

#define MAXR 6

layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer S { float src[]; };
layout(std430, binding = 1) writeonly buffer D { float dst[]; };

layout(push_constant) uniform P {
	uint n;
	uint rank;
	uint offS;
	uint offD;
	uint shape[MAXR];
	uint ss[MAXR];
	uint ds[MAXR];
} p;

void main() {
	uint i = flatIndex(256);
	if (i >= p.n) {
		return;
	}
	uint si = p.offS, di = p.offD;
	uint rest = i;
	for (int d = int(p.rank) - 1; d >= 0; d--) {
		uint c = rest % p.shape[d];
		rest /= p.shape[d];
		si += c * p.ss[d];
		di += c * p.ds[d];
	}
	dst[di] = src[si];
}
