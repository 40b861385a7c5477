#version 450
// The column matrix of a convolution (tensor.ConvGeom's layout). IM2COL:
// one invocation per column-matrix value. COL2IM: one invocation per image
// value, gathering every column entry that reads it and adding the sum, so
// that no two invocations write the same value.
#include "common.glsl"

layout(local_size_x = 256) in;

layout(std430, binding = 0) buffer Img { float img[]; };
layout(std430, binding = 1) buffer Col { float col[]; };

layout(push_constant) uniform P {
	uint total;  // values of the column matrix (IM2COL) or the images (COL2IM)
	uint c, h, w; // image channels, height, width
	uint ch, cw; // column-side height and width
	uint kh, kw;
	uint sh, sw;
	int ph, pw;
	uint dh, dw;
	uint offImg, offCol;
} p;

void main() {
	uint i = flatIndex(256);
	if (i >= p.total) {
		return;
	}
#ifdef IM2COL
	uint rows = p.c * p.kh * p.kw;
	uint cols = p.total / rows;
	uint r = i / cols, j = i % cols;
	uint ci = r / (p.kh * p.kw), tap = r % (p.kh * p.kw);
	uint ky = tap / p.kw, kx = tap % p.kw;
	uint per = p.ch * p.cw;
	uint n = j / per, q = j % per;
	uint oy = q / p.cw, ox = q % p.cw;
	int iy = int(oy * p.sh + ky * p.dh) - p.ph;
	int ix = int(ox * p.sw + kx * p.dw) - p.pw;
	float v = 0.0;
	if (iy >= 0 && iy < int(p.h) && ix >= 0 && ix < int(p.w)) {
		v = img[p.offImg + ((n * p.c + ci) * p.h + uint(iy)) * p.w + uint(ix)];
	}
	col[p.offCol + i] = v;
#else
	uint ix = i % p.w;
	uint t = i / p.w;
	uint iy = t % p.h;
	t /= p.h;
	uint ci = t % p.c;
	uint n = t / p.c;
	uint nimg = p.total / (p.c * p.h * p.w);
	uint ncols = nimg * p.ch * p.cw;
	float acc = 0.0;
	for (uint ky = 0; ky < p.kh; ky++) {
		int ty = int(iy) + p.ph - int(ky * p.dh);
		if (ty < 0 || ty % int(p.sh) != 0) {
			continue;
		}
		uint oy = uint(ty) / p.sh;
		if (oy >= p.ch) {
			continue;
		}
		for (uint kx = 0; kx < p.kw; kx++) {
			int tx = int(ix) + p.pw - int(kx * p.dw);
			if (tx < 0 || tx % int(p.sw) != 0) {
				continue;
			}
			uint ox = uint(tx) / p.sw;
			if (ox >= p.cw) {
				continue;
			}
			uint r = (ci * p.kh + ky) * p.kw + kx;
			uint j = (n * p.ch + oy) * p.cw + ox;
			acc += col[p.offCol + r * ncols + j];
		}
	}
	img[p.offImg + i] += acc;
#endif
}
