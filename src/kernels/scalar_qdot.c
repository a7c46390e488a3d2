/* scalar_qdot.c — scalar emulation of ggml's x86 dots of the 32-element
 * block formats: Q4_0, Q5_0, Q8_0 with Q8_0 activations, Q4_1, Q5_1 with
 * Q8_1 (see scalar_impl.h for why an emulation).
 *
 * What ggml-cpu-quants.c (AVX2 path, -O3 -march=native, GNU C so scalar
 * a*b+c is contracted to an FMA) computes, per block b in order:
 *
 *   d      = f16(x.d) * f16(y.d)                 (one f32 multiply)
 *   acc[l] = fma(d, (float)lane_l, acc[l])      l = 0..7, lane_l the
 *            exact integer sum of w*a over values 4l..4l+3
 *   summs  = fma(f16(x.m), f16(y.s), summs)     Q4_1, Q5_1 only
 *
 * and returns hsum8(acc) (+ summs). One accumulator, in block order: a
 * kernel that splits the blocks over two accumulators rounds differently. */
#include <math.h>
#include <string.h>

#include "q4_0x8.h"
#include "scalar_impl.h"

typedef enum { FMT_Q4_0, FMT_Q4_1, FMT_Q5_0, FMT_Q5_1, FMT_Q8_0 } legacy_fmt;

static bool has_min(legacy_fmt f)
{
    return f == FMT_Q4_1 || f == FMT_Q5_1;
}

static size_t w_size(legacy_fmt f)
{
    switch (f) {
    case FMT_Q4_0: return sizeof(lp_block_q4_0);
    case FMT_Q4_1: return sizeof(lp_block_q4_1);
    case FMT_Q5_0: return sizeof(lp_block_q5_0);
    case FMT_Q5_1: return sizeof(lp_block_q5_1);
    default: return sizeof(lp_block_q8_0);
    }
}

static float ld_f16(const uint8_t *p)
{
    lp_half h;
    memcpy(&h, p, sizeof h);
    return lp_f16_to_f32(h);
}

/* Nibbles (low: values 0..15, high: 16..31) plus an optional fifth bit
 * (bit j of qh belongs to value j), minus the format's offset. */
static void nibbles(const uint8_t qs[16], const uint8_t *qh, int off, int8_t w[32])
{
    uint32_t h = 0;
    if (qh)
        memcpy(&h, qh, sizeof h);
    for (int j = 0; j < 16; j++) {
        const int lo = (qs[j] & 0x0f) | (int)((h >> j) & 1) << 4;
        const int hi = (qs[j] >> 4) | (int)((h >> (j + 16)) & 1) << 4;
        w[j] = (int8_t)(lo - off);
        w[j + 16] = (int8_t)(hi - off);
    }
}

/* The 32 weights of the block at x as signed integers. */
static void decode(legacy_fmt f, const uint8_t *x, int8_t w[32])
{
    switch (f) {
    case FMT_Q4_0:
        nibbles(x + offsetof(lp_block_q4_0, qs), NULL, 8, w);
        break;
    case FMT_Q4_1:
        nibbles(x + offsetof(lp_block_q4_1, qs), NULL, 0, w);
        break;
    case FMT_Q5_0:
        nibbles(x + offsetof(lp_block_q5_0, qs), x + offsetof(lp_block_q5_0, qh), 16, w);
        break;
    case FMT_Q5_1:
        nibbles(x + offsetof(lp_block_q5_1, qs), x + offsetof(lp_block_q5_1, qh), 0, w);
        break;
    default:
        memcpy(w, x + offsetof(lp_block_q8_0, qs), 32);
        break;
    }
}

static float dot_legacy(legacy_fmt f, int64_t n, const uint8_t *x, const uint8_t *y)
{
    /* Q8_0 and Q8_1 both start {d; ...}; qs follows d (Q8_0) or s (Q8_1). */
    const size_t bx = w_size(f);
    const size_t by = has_min(f) ? sizeof(lp_block_q8_1) : sizeof(lp_block_q8_0);
    const size_t yqs = has_min(f) ? offsetof(lp_block_q8_1, qs) : offsetof(lp_block_q8_0, qs);
    float acc[8] = { 0 };
    float summs = 0.0f;
    for (int64_t i = 0; i < n / 32; i++, x += bx, y += by) {
        int8_t w[32], a[32];
        decode(f, x, w);
        memcpy(a, y + yqs, sizeof a);
        const float d = ld_f16(x) * ld_f16(y);
        for (int l = 0; l < 8; l++) {
            int32_t s = 0;
            for (int t = 4 * l; t < 4 * l + 4; t++)
                s += w[t] * a[t];
            acc[l] = fmaf(d, (float)s, acc[l]);
        }
        /* x.m follows x.d; y.s follows y.d. */
        if (has_min(f))
            summs = fmaf(ld_f16(x + 2), ld_f16(y + 2), summs);
    }
    const float sum = lp_lanes8_hsum(acc);
    return has_min(f) ? sum + summs : sum;
}

static float dot_q4_0(int64_t n, const void *w, const void *a)
{
    return dot_legacy(FMT_Q4_0, n, w, a);
}

static float dot_q4_1(int64_t n, const void *w, const void *a)
{
    return dot_legacy(FMT_Q4_1, n, w, a);
}

static float dot_q5_0(int64_t n, const void *w, const void *a)
{
    return dot_legacy(FMT_Q5_0, n, w, a);
}

static float dot_q5_1(int64_t n, const void *w, const void *a)
{
    return dot_legacy(FMT_Q5_1, n, w, a);
}

static float dot_q8_0(int64_t n, const void *w, const void *a)
{
    return dot_legacy(FMT_Q8_0, n, w, a);
}

float lp_q4_0x8_dot_scalar(int64_t n, const void *w, const void *a)
{
    const uint8_t *x = w, *y = a;
    float r = 0.0f;
    for (int64_t i = 0; i < n / 32; i++, x += sizeof(lp_block_q4_0), y += sizeof(lp_block_q8_0)) {
        int8_t wq[32], aq[32];
        decode(FMT_Q4_0, x, wq);
        memcpy(aq, y + offsetof(lp_block_q8_0, qs), sizeof aq);
        int32_t s = 0;
        for (int t = 0; t < 32; t++)
            s += wq[t] * aq[t];
        r = fmaf((float)s, ld_f16(x) * ld_f16(y), r);
    }
    return r;
}

lp_vec_dot_fn lp_q4_0x8_dot(lp_isa isa)
{
#if defined(__x86_64__)
    /* One FMA chain bounds it; AVX-512 would not be faster than AVX2. */
    if (isa >= LP_ISA_AVX2)
        return lp_q4_0x8_dot_avx2;
#else
    (void)isa;
#endif
    return lp_q4_0x8_dot_scalar;
}

void lp_scalar_fill_qdot(lp_kernels *k)
{
    k->dot[LP_TYPE_Q4_0] = dot_q4_0;
    k->dot[LP_TYPE_Q4_1] = dot_q4_1;
    k->dot[LP_TYPE_Q5_0] = dot_q5_0;
    k->dot[LP_TYPE_Q5_1] = dot_q5_1;
    k->dot[LP_TYPE_Q8_0] = dot_q8_0;
}
