#version 450
// Batched C = alpha*op(A)*op(B) + beta*C, row-major (tensor.GemmArgs).
// Each workgroup computes a BM x BN tile of C, staging BK-deep slices of
// op(A) and op(B) through shared memory; each invocation keeps a TM x TN
// block of C in registers. TRANS_A and TRANS_B select the variants; tile
// sizes are specialisation constants chosen from the device's limits.
// With VEC4 the operands are read four values at a time, which the host
// allows only when every offset and leading dimension is a multiple of 4.
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;

#ifdef VEC4
layout(std430, binding = 0) readonly buffer A { vec4 a4[]; };
layout(std430, binding = 1) readonly buffer B { vec4 b4[]; };
#else
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
#endif
layout(std430, binding = 2) buffer C { float c[]; };

layout(push_constant) uniform P {
	uint m, n, k;
	uint lda, ldb, ldc;
	uint offA, offB, offC;
	uint strideA, strideB, strideC;
	uint batch0;
	float alpha, beta;
} p;

shared float As[BK * BM]; // As[kk*BM + i] = op(A)[row0+i, k0+kk]
shared float Bs[BK * BN]; // Bs[kk*BN + j] = op(B)[k0+kk, col0+j]

void main() {
	uint l = gl_LocalInvocationID.x;
	uint tx = l % (BN / TN), ty = l / (BN / TN);
	uint row0 = gl_WorkGroupID.y * BM, col0 = gl_WorkGroupID.x * BN;
	uint z = gl_WorkGroupID.z + p.batch0;
	uint baseA = p.offA + z * p.strideA;
	uint baseB = p.offB + z * p.strideB;
	uint baseC = p.offC + z * p.strideC;

	float acc[TM * TN];
	for (uint t = 0; t < TM * TN; t++) {
		acc[t] = 0.0;
	}
	for (uint k0 = 0; k0 < p.k; k0 += BK) {
#ifdef VEC4
		// op(A) tile: four consecutive values along A's rows.
		for (uint q = l; q < BM * BK / 4; q += WG) {
#ifdef TRANS_A
			uint kk = q / (BM / 4), i = q % (BM / 4) * 4; // A is [k, m]
			uint r = k0 + kk, cc = row0 + i;
			vec4 v = vec4(0.0);
			if (r < p.k && cc + 3 < p.m) {
				v = a4[(baseA + r * p.lda + cc) / 4];
			} else if (r < p.k) {
				for (uint e = 0; e < 4; e++) {
					if (cc + e < p.m) {
						v[e] = a4[(baseA + r * p.lda + cc + e) / 4][(baseA + r * p.lda + cc + e) % 4];
					}
				}
			}
			for (uint e = 0; e < 4; e++) {
				As[kk * BM + i + e] = v[e];
			}
#else
			uint i = q / (BK / 4), kk = q % (BK / 4) * 4; // A is [m, k]
			uint r = row0 + i, cc = k0 + kk;
			vec4 v = vec4(0.0);
			if (r < p.m && cc + 3 < p.k) {
				v = a4[(baseA + r * p.lda + cc) / 4];
			} else if (r < p.m) {
				for (uint e = 0; e < 4; e++) {
					if (cc + e < p.k) {
						v[e] = a4[(baseA + r * p.lda + cc + e) / 4][(baseA + r * p.lda + cc + e) % 4];
					}
				}
			}
			for (uint e = 0; e < 4; e++) {
				As[(kk + e) * BM + i] = v[e];
			}
#endif
		}
		for (uint q = l; q < BK * BN / 4; q += WG) {
#ifdef TRANS_B
			uint j = q / (BK / 4), kk = q % (BK / 4) * 4; // B is [n, k]
			uint r = col0 + j, cc = k0 + kk;
			vec4 v = vec4(0.0);
			if (r < p.n && cc + 3 < p.k) {
				v = b4[(baseB + r * p.ldb + cc) / 4];
			} else if (r < p.n) {
				for (uint e = 0; e < 4; e++) {
					if (cc + e < p.k) {
						v[e] = b4[(baseB + r * p.ldb + cc + e) / 4][(baseB + r * p.ldb + cc + e) % 4];
					}
				}
			}
			for (uint e = 0; e < 4; e++) {
				Bs[(kk + e) * BN + j] = v[e];
			}
#else
			uint kk = q / (BN / 4), j = q % (BN / 4) * 4; // B is [k, n]
			uint r = k0 + kk, cc = col0 + j;
			vec4 v = vec4(0.0);
			if (r < p.k && cc + 3 < p.n) {
				v = b4[(baseB + r * p.ldb + cc) / 4];
			} else if (r < p.k) {
				for (uint e = 0; e < 4; e++) {
					if (cc + e < p.n) {
						v[e] = b4[(baseB + r * p.ldb + cc + e) / 4][(baseB + r * p.ldb + cc + e) % 4];
					}
				}
			}
			for (uint e = 0; e < 4; e++) {
				Bs[kk * BN + j + e] = v[e];
			}
#endif
		}
#else
		for (uint q = l; q < BM * BK; q += WG) {
#ifdef TRANS_A
			uint i = q % BM, kk = q / BM; // consecutive invocations read along A's rows
			uint r = row0 + i, cc = k0 + kk;
			As[kk * BM + i] = (r < p.m && cc < p.k) ? a[baseA + cc * p.lda + r] : 0.0;
#else
			uint kk = q % BK, i = q / BK;
			uint r = row0 + i, cc = k0 + kk;
			As[kk * BM + i] = (r < p.m && cc < p.k) ? a[baseA + r * p.lda + cc] : 0.0;
#endif
		}
		for (uint q = l; q < BK * BN; q += WG) {
#ifdef TRANS_B
			uint kk = q % BK, j = q / BK;
			uint r = k0 + kk, cc = col0 + j;
			Bs[kk * BN + j] = (r < p.k && cc < p.n) ? b[baseB + cc * p.ldb + r] : 0.0;
#else
			uint j = q % BN, kk = q / BN;
			uint r = k0 + kk, cc = col0 + j;
			Bs[kk * BN + j] = (r < p.k && cc < p.n) ? b[baseB + r * p.ldb + cc] : 0.0;
#endif
		}
#endif
		barrier();
		for (uint kk = 0; kk < BK; kk++) {
			// Invocation (tx, ty) owns rows ty + s*(BM/TM) and columns
			// tx + t*(BN/TN): neighbours read neighbouring shared-memory
			// words (no bank conflicts) and write neighbouring values of C.
			float ra[TM], rb[TN];
			for (uint t = 0; t < TM; t++) {
				ra[t] = As[kk * BM + ty + t * (BM / TM)];
			}
			for (uint t = 0; t < TN; t++) {
				rb[t] = Bs[kk * BN + tx + t * (BN / TN)];
			}
			for (uint s = 0; s < TM; s++) {
				for (uint t = 0; t < TN; t++) {
					acc[s * TN + t] = fma(ra[s], rb[t], acc[s * TN + t]);
				}
			}
		}
		barrier();
	}
	for (uint s = 0; s < TM; s++) {
		uint r = row0 + ty + s * (BM / TM);
		if (r >= p.m) {
			break;
		}
		for (uint t = 0; t < TN; t++) {
			uint cc = col0 + tx + t * (BN / TN);
			if (cc >= p.n) {
				break;
			}
			uint ci = baseC + r * p.ldc + cc;
			float v = p.alpha * acc[s * TN + t];
			if (p.beta != 0.0) {
				v = fma(p.beta, c[ci], v);
			}
			c[ci] = v;
		}
	}
}
