// Shared by every kernel: the index of the invocation over a 2D grid of
// workgroups (one axis alone is limited to 65535 groups), and float32 math
// accurate to a few ulp, because the GLSL built-ins only promise a few
// hundred ulp on some drivers (lavapipe's exp and log among them).

uint flatIndex(uint wgSize) {
	return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * wgSize + gl_LocalInvocationID.x;
}

uint flatGroup() {
	return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}

// residual returns a - q*b with q*b taken exactly (Dekker's product), so
// that it is right whether or not the driver fuses multiply-adds; precise
// keeps the compiler from reassociating it.
float residual(float a, float q, float b) {
	precise float cq = 4097.0 * q;
	precise float qh = cq - (cq - q);
	precise float ql = q - qh;
	precise float cb = 4097.0 * b;
	precise float bh = cb - (cb - b);
	precise float bl = b - bh;
	precise float p = q * b;
	precise float e = ((qh * bh - p) + qh * bl + ql * bh) + ql * bl;
	precise float r = (a - p) - e;
	return r;
}

// div is a/b correctly rounded in practice: the built-in division may be
// off by 2.5 ulp, one Newton step on the exact residual fixes it.
float div(float a, float b) {
	float q = a / b;
	if (isinf(q) || isnan(q) || q == 0.0 || isinf(b) || abs(q) > 1e30 || abs(b) > 1e30 || abs(q) < 1e-30 || abs(b) < 1e-30) {
		return q;
	}
	precise float c = q + residual(a, q, b) / b;
	return c;
}

// sqrtAcc corrects the built-in square root by one Newton step.
float sqrtAcc(float x) {
	float y = sqrt(x);
	if (!(y > 0.0) || isinf(y) || y > 1e30 || y < 1e-30) {
		return y;
	}
	precise float c = y + residual(x, y, y) * (0.5 / y);
	return c;
}

// ldexp2 scales by 2^n in two steps so that n up to 254 stays finite.
float ldexp2(float x, int n) {
	int h = n / 2;
	return ldexp(ldexp(x, h), n - h);
}

// expAcc: Cody-Waite reduction by ln 2 and a degree-7 Taylor polynomial.
float expAcc(float x) {
	if (isnan(x)) {
		return x;
	}
	if (x > 88.72284) {
		return uintBitsToFloat(0x7f800000u);
	}
	if (x < -103.97208) {
		return 0.0;
	}
	float n = floor(fma(x, 1.4426950408889634, 0.5));
	float r = fma(-n, 0.693145751953125, x);
	r = fma(-n, 1.428606765330187e-06, r);
	float p = 1.9841270e-4;
	p = fma(p, r, 1.3888889e-3);
	p = fma(p, r, 8.3333333e-3);
	p = fma(p, r, 4.1666667e-2);
	p = fma(p, r, 1.6666667e-1);
	p = fma(p, r, 0.5);
	p = fma(p, r, 1.0);
	p = fma(p, r, 1.0);
	return ldexp2(p, int(n));
}

// logAcc follows fdlibm's logf: x = 2^k (1+f), log(1+f) from s = f/(2+f).
float logAcc(float x) {
	if (isnan(x) || x < 0.0) {
		return uintBitsToFloat(0x7fc00000u);
	}
	if (x == 0.0) {
		return uintBitsToFloat(0xff800000u);
	}
	if (isinf(x)) {
		return x;
	}
	int k;
	float m = frexp(x, k); // m in [0.5, 1)
	if (m < 0.70710678) {
		m *= 2.0;
		k -= 1;
	}
	float f = m - 1.0;
	float s = div(f, 2.0 + f);
	float z = s * s;
	float w = z * z;
	float t1 = w * fma(w, 2.4279078841e-01, 4.0000972152e-01);
	float t2 = z * fma(w, fma(w, 1.5313838422e-01, 2.8498786688e-01), 6.6666662693e-01);
	float R = t2 + t1;
	float hfsq = 0.5 * f * f;
	float dk = float(k);
	return dk * 6.9313812256e-01 - ((hfsq - (s * (hfsq + R) + dk * 9.0580006145e-06)) - f);
}

// tanhAcc: an odd polynomial near zero (Cephes tanhf), 1 - 2/(e^{2|x|}+1) beyond.
float tanhAcc(float x) {
	if (isnan(x)) {
		return x;
	}
	float a = abs(x);
	if (a > 9.0) {
		return sign(x);
	}
	if (a < 0.625) {
		float z = x * x;
		float p = -5.70498872745e-3;
		p = fma(p, z, 2.06390887954e-2);
		p = fma(p, z, -5.37397155531e-2);
		p = fma(p, z, 1.33314422036e-1);
		p = fma(p, z, -3.33332819422e-1);
		return fma(x * z, p, x);
	}
	float t = 1.0 - div(2.0, expAcc(2.0 * a) + 1.0);
	return x < 0.0 ? -t : t;
}

float sigmoidAcc(float x) {
	if (x >= 0.0) {
		return div(1.0, 1.0 + expAcc(-x));
	}
	float e = expAcc(x);
	return div(e, 1.0 + e);
}

// powAcc has Go's math.Pow semantics for the cases a layer meets: integer
// exponents by repeated squaring (negative bases allowed), +-0.5 by square
// roots, anything else through exp(a log x).
float powAcc(float x, float a) {
	if (a == 0.0) {
		return 1.0;
	}
	if (a == 1.0) {
		return x;
	}
	if (isnan(x) || isnan(a)) {
		return uintBitsToFloat(0x7fc00000u);
	}
	if (a == 0.5) {
		return sqrtAcc(x);
	}
	if (a == -0.5) {
		return div(1.0, sqrtAcc(x));
	}
	if (a == floor(a) && abs(a) <= 64.0) {
		int n = int(abs(a));
		float r = 1.0;
		float b = x;
		while (n > 0) {
			if ((n & 1) != 0) {
				r *= b;
			}
			b *= b;
			n >>= 1;
		}
		return a < 0.0 ? div(1.0, r) : r;
	}
	if (x < 0.0) {
		if (a == floor(a)) { // an even or odd integer beyond 64
			float r = expAcc(a * logAcc(-x));
			return mod(a, 2.0) == 0.0 ? r : -r;
		}
		return uintBitsToFloat(0x7fc00000u);
	}
	if (x == 0.0) {
		return a > 0.0 ? 0.0 : uintBitsToFloat(0x7f800000u);
	}
	return expAcc(a * logAcc(x));
}

// maxNaN is max with NaN propagating from either side, as the CPU backend.
float maxNaN(float a, float b) {
	if (isnan(a) || a > b) {
		return a;
	}
	return b;
}
