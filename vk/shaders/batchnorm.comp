#version 450
// Batch normalisation over x viewed as [N, C, HW] (tensor.BatchNormArgs),
// in four passes chosen by a define:
//   STATS   one workgroup per channel: mean and 1/sqrt(var+eps) into
//           saveMean and saveInvStd, running averages updated (training),
//           or taken from the running averages (inference);
//   APPLY   one invocation per value: y = (x-mean)*invStd*gamma + beta;
//   BSTATS  one workgroup per channel: sum(dy) and sum(dy*xhat) into a
//           scratch buffer of 2C values, dgamma and dbeta when wanted;
//   BAPPLY  one invocation per value: dx.
// Every pass binds the same ten buffers (unused ones to any buffer).
#include "common.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const bool HAS_GAMMA = true; // else gamma = 1, beta = 0
layout(constant_id = 1) const bool TRAINING = true;
layout(constant_id = 2) const bool HAS_DGAMMA = true;
layout(constant_id = 3) const bool HAS_DBETA = true;

layout(std430, binding = 0) buffer B0 { float x[]; };
layout(std430, binding = 1) buffer B1 { float gamma[]; };
layout(std430, binding = 2) buffer B2 { float beta[]; };    // dy in the backward passes
layout(std430, binding = 3) buffer B3 { float runMean[]; }; // scratch in the backward passes
layout(std430, binding = 4) buffer B4 { float runVar[]; };
layout(std430, binding = 5) buffer B5 { float saveMean[]; };
layout(std430, binding = 6) buffer B6 { float saveInv[]; };
layout(std430, binding = 7) buffer B7 { float y[]; };       // dx in the backward passes
layout(std430, binding = 8) buffer B8 { float dgamma[]; };
layout(std430, binding = 9) buffer B9 { float dbeta[]; };

layout(push_constant) uniform P {
	uint n, c, hw;
	float eps, momentum;
	uint o[10]; // element offsets of the ten buffers
} p;

#define DY beta
#define SCRATCH runMean
#define DX y

shared float part[256];
shared float part2[256];

// kahan adds v to the compensated sum (s, c): each invocation sums m/256
// values, and the gradient's sums cancel, so plain float32 loses digits the
// CPU's float64 keeps.
void kahan(inout float s, inout float c, float v) {
	precise float y = v - c;
	precise float t = s + y;
	c = (t - s) - y;
	s = t;
}

// sum2 adds a and b over the workgroup; invocation 0 gets the totals.
void sum2(inout float a, inout float b) {
	uint l = gl_LocalInvocationID.x;
	part[l] = a;
	part2[l] = b;
	barrier();
	for (uint s = 128; s > 0; s >>= 1) {
		if (l < s) {
			part[l] += part[l + s];
			part2[l] += part2[l + s];
		}
		barrier();
	}
	a = part[0];
	b = part2[0];
	barrier();
}

void main() {
	uint m = p.n * p.hw;
#if defined(STATS) || defined(BSTATS)
	uint ch = flatGroup();
	if (ch >= p.c) {
		return;
	}
	uint l = gl_LocalInvocationID.x;
#endif
#ifdef STATS
	float mean, invStd;
	if (TRAINING) {
		float s = 0.0, sc = 0.0, unused = 0.0;
		for (uint k = l; k < m; k += 256) {
			uint at = (k / p.hw * p.c + ch) * p.hw + k % p.hw;
			kahan(s, sc, x[p.o[0] + at]);
		}
		sum2(s, unused);
		mean = s / float(m);
		float ss = 0.0, ssc = 0.0;
		unused = 0.0;
		for (uint k = l; k < m; k += 256) {
			uint at = (k / p.hw * p.c + ch) * p.hw + k % p.hw;
			float d = x[p.o[0] + at] - mean;
			kahan(ss, ssc, d * d);
		}
		sum2(ss, unused);
		invStd = div(1.0, sqrtAcc(ss / float(m) + p.eps));
		if (l == 0) {
			runMean[p.o[3] + ch] = (1.0 - p.momentum) * runMean[p.o[3] + ch] + p.momentum * mean;
			runVar[p.o[4] + ch] = (1.0 - p.momentum) * runVar[p.o[4] + ch] + p.momentum * (ss / float(m - 1));
		}
	} else {
		mean = runMean[p.o[3] + ch];
		invStd = div(1.0, sqrtAcc(runVar[p.o[4] + ch] + p.eps));
	}
	if (l == 0) {
		saveMean[p.o[5] + ch] = mean;
		saveInv[p.o[6] + ch] = invStd;
	}
#endif
#ifdef APPLY
	uint i = flatIndex(256);
	if (i >= m * p.c) {
		return;
	}
	uint ch = i / p.hw % p.c;
	float g = HAS_GAMMA ? gamma[p.o[1] + ch] : 1.0;
	float b = HAS_GAMMA ? beta[p.o[2] + ch] : 0.0;
	float scale = g * saveInv[p.o[6] + ch];
	float shift = b - saveMean[p.o[5] + ch] * scale;
	y[p.o[7] + i] = fma(x[p.o[0] + i], scale, shift);
#endif
#ifdef BSTATS
	float mean = saveMean[p.o[5] + ch], invStd = saveInv[p.o[6] + ch];
	float sdy = 0.0, sdyx = 0.0, c1 = 0.0, c2 = 0.0;
	for (uint k = l; k < m; k += 256) {
		uint at = (k / p.hw * p.c + ch) * p.hw + k % p.hw;
		float d = DY[p.o[2] + at];
		kahan(sdy, c1, d);
		kahan(sdyx, c2, d * (x[p.o[0] + at] - mean) * invStd);
	}
	sum2(sdy, sdyx);
	if (l == 0) {
		SCRATCH[p.o[3] + 2 * ch] = sdy;
		SCRATCH[p.o[3] + 2 * ch + 1] = sdyx;
		if (HAS_DGAMMA) {
			dgamma[p.o[8] + ch] = sdyx;
		}
		if (HAS_DBETA) {
			dbeta[p.o[9] + ch] = sdy;
		}
	}
#endif
#ifdef BAPPLY
	uint i = flatIndex(256);
	if (i >= m * p.c) {
		return;
	}
	uint ch = i / p.hw % p.c;
	float invStd = saveInv[p.o[6] + ch];
	float k = (HAS_GAMMA ? gamma[p.o[1] + ch] : 1.0) * invStd;
	float d = DY[p.o[2] + i];
	if (TRAINING) {
		float xhat = (x[p.o[0] + i] - saveMean[p.o[5] + ch]) * invStd;
		float fm = float(m);
		d = d - SCRATCH[p.o[3] + 2 * ch] / fm - xhat * SCRATCH[p.o[3] + 2 * ch + 1] / fm;
	}
	DX[p.o[7] + i] = k * d;
#endif
}
