#!/usr/bin/env python3
"""Fits the polynomials in vector_math.hpp and prints them as C++ hex-float constants.

Near-minimax fits via mpmath.chebyfit (Chebyshev interpolation, within a small factor of the
true minimax error), in 50-digit arithmetic, then rounded to the target precision.

  exp:  e^r = 1 + r + r^2 q(r),            r in [-ln2/2, ln2/2]; q of degree 4 (f32) or 9 (f64)
  the AVX-512 f32 sigmoid's exp: the same form on r in [-ln2/32, ln2/32], q of degree 1, beside
        the table 2^(j/16), j = 0..15, and ln2 split into its f32 rounding and the rest
  tanh: tanh(x) = x + x^3 g(x^2),          x in [0, atanh(1/2)]; g of degree 4 (f32) or 10 (f64)

Run: python3 fit_polynomials.py   (needs mpmath only)
"""
import struct

import mpmath as mp

mp.mp.dps = 50


def q_exp(r):
    if abs(r) < mp.mpf("1e-12"):
        return mp.mpf(1) / 2 + r / 6 + r * r / 24
    return (mp.exp(r) - 1 - r) / (r * r)


def g_tanh(z):
    if z < mp.mpf("1e-24"):
        return -mp.mpf(1) / 3 + 2 * z / 15
    x = mp.sqrt(z)
    return (mp.tanh(x) - x) / (x * x * x)


def as_f32(c):
    return struct.unpack("f", struct.pack("f", float(c)))[0]


def hexfloat(v):
    mant, exp = v.hex().split("p")
    return mant.rstrip("0").rstrip(".") + "p" + exp


def emit(name, f, interval, degree, single):
    coeffs, err = mp.chebyfit(f, interval, degree + 1, error=True)
    coeffs = list(reversed(coeffs))  # c0 first
    suffix = "f" if single else ""
    vals = [as_f32(c) if single else float(c) for c in coeffs]
    body = ", ".join(hexfloat(v) + suffix for v in vals)
    print(f"// {name}: degree {degree}, fit error {mp.nstr(err, 3)}")
    print(f"{{{body}}}")


ln2_half = mp.log(2) / 2
t_hi = mp.atanh(mp.mpf(1) / 2)
emit("exp q f32", q_exp, [-ln2_half, ln2_half], 4, True)
emit("exp q f64", q_exp, [-ln2_half, ln2_half], 9, False)
emit("tanh g f32", g_tanh, [0, t_hi * t_hi], 4, True)
emit("tanh g f64", g_tanh, [0, t_hi * t_hi], 10, False)
ln2_32 = mp.log(2) / 32
emit("exp q f32, sigmoid on AVX-512 (|r| <= ln2/32)", q_exp, [-ln2_32, ln2_32], 1, True)
table = [as_f32(mp.mpf(2) ** (mp.mpf(j) / 16)) for j in range(16)]
exact = [mp.mpf(2) ** (mp.mpf(j) / 16) for j in range(16)]
worst = max(abs(t - mp.mpf(v)) / t * 2**24 for t, v in zip(exact, table))
print(f"// 2^(j/16), j = 0..15, f32; max relative error {mp.nstr(worst, 3)} * 2^-24")
print("{" + ", ".join(hexfloat(v) + "f" for v in table) + "}")
ln2_hi = as_f32(mp.log(2))
print(f"// ln2 = hi + lo: {hexfloat(ln2_hi)}f, {hexfloat(as_f32(mp.log(2) - mp.mpf(ln2_hi)))}f")
