/* synth_blocks.c — random weights made directly in a ggml type.
 *
 * Quantizing random floats with llama.cpp's k-quant scale searches costs far
 * more than writing the file, so blocks are drawn directly: the quant bits
 * are random bytes (every bit pattern is a valid quant), and the block's
 * scales are set so that a weight dequantizes to mean about 0 and standard
 * deviation about sigma, as a trained model's would. A per-block factor in
 * [0.8, 1.2) varies the scales from block to block, as real ones do; where
 * the format's levels are off-centre (Q4_0 runs -8..7) the scale's sign is
 * random per block, as it is in llama.cpp's own Q4_0/Q5_0/Q3_K/Q6_K files,
 * so the small bias cancels.
 *
 * The RMS constants below are sqrt(E[level^2]) for levels uniform on the
 * format's range (for n levels centred on -1/2: sqrt((n^2 - 1)/12 + 1/4)). */
#include <math.h>
#include <string.h>

#include "quant.h"
#include "synth_internal.h"

#define GOLDEN 0x9E3779B97F4A7C15ull

static uint64_t finalise(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t synth_mix(uint64_t a, uint64_t b)
{
    return finalise(a ^ finalise(b * GOLDEN + 0x632BE59BD9B4E019ull));
}

/* splitmix64: a counter stream, cheap and good enough for weights. */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r)
{
    r->s += GOLDEN;
    return finalise(r->s);
}

static void random_bytes(rng *r, uint8_t *p, size_t n)
{
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v = next(r);
        memcpy(p, &v, 8);
    }
    if (n) {
        uint64_t v = next(r);
        memcpy(p, &v, n);
    }
}

/* Uniform in [0, 1). */
static float unit(rng *r)
{
    return (float)(next(r) >> 40) * (1.0f / 16777216.0f);
}

static float jitter(rng *r)
{
    return 0.8f + 0.4f * unit(r);
}

static float random_sign(rng *r)
{
    return (next(r) & 1) ? -1.0f : 1.0f;
}

/* Uniform integer in [lo, hi]. */
static int uniform_int(rng *r, int lo, int hi)
{
    return lo + (int)(((next(r) >> 32) * (uint64_t)(hi - lo + 1)) >> 32);
}

/* Irwin-Hall of four 16-bit uniforms: about N(0, 1), within +-3.46. */
static float normalish(rng *r)
{
    uint64_t v = next(r);
    uint32_t s = (uint32_t)(v & 0xFFFF) + (uint32_t)((v >> 16) & 0xFFFF) +
                 (uint32_t)((v >> 32) & 0xFFFF) + (uint32_t)(v >> 48);
    return ((float)s - 131070.0f) * (1.0f / 37837.23f);
}

static void gen_float(uint32_t type, float sigma, rng *r, uint8_t *out)
{
    for (int i = 0; i < 64; i++) {
        float x = sigma * normalish(r);
        if (type == LP_TYPE_F32) {
            memcpy(out + 4 * i, &x, 4);
        } else {
            uint16_t h = type == LP_TYPE_F16 ? lp_f32_to_f16(x) : lp_f32_to_bf16(x);
            memcpy(out + 2 * i, &h, 2);
        }
    }
}

#define RMS_4BIT_C 4.6368  /* levels -8..7 */
#define RMS_5BIT_C 9.2466  /* -16..15 */
#define RMS_8BIT_C 73.9019 /* -128..127 */
#define STD_4BIT 4.6098    /* 0..15 about their mean (Q4_1 centres them) */
#define STD_5BIT 9.2331    /* 0..31 */

/* Q4_0, Q5_0, Q8_0: d * level, levels centred (almost) on zero. */
static void gen_q4_0(float sigma, rng *r, uint8_t *out)
{
    lp_block_q4_0 b;
    b.d = lp_f32_to_f16(random_sign(r) * jitter(r) * sigma / (float)RMS_4BIT_C);
    random_bytes(r, b.qs, sizeof b.qs);
    memcpy(out, &b, sizeof b);
}

static void gen_q5_0(float sigma, rng *r, uint8_t *out)
{
    lp_block_q5_0 b;
    b.d = lp_f32_to_f16(random_sign(r) * jitter(r) * sigma / (float)RMS_5BIT_C);
    random_bytes(r, b.qh, sizeof b.qh);
    random_bytes(r, b.qs, sizeof b.qs);
    memcpy(out, &b, sizeof b);
}

/* llama.cpp's Q8_0 scale is amax / 127, never negative. */
static void gen_q8_0(float sigma, rng *r, uint8_t *out)
{
    lp_block_q8_0 b;
    b.d = lp_f32_to_f16(jitter(r) * sigma / (float)RMS_8BIT_C);
    random_bytes(r, (uint8_t *)b.qs, sizeof b.qs);
    memcpy(out, &b, sizeof b);
}

/* Q4_1, Q5_1: d * q + m, with m = -d * (mean level) so the mean is 0. */
static void gen_q4_1(float sigma, rng *r, uint8_t *out)
{
    lp_block_q4_1 b;
    float d = jitter(r) * sigma / (float)STD_4BIT;
    b.d = lp_f32_to_f16(d);
    b.m = lp_f32_to_f16(-7.5f * d);
    random_bytes(r, b.qs, sizeof b.qs);
    memcpy(out, &b, sizeof b);
}

static void gen_q5_1(float sigma, rng *r, uint8_t *out)
{
    lp_block_q5_1 b;
    float d = jitter(r) * sigma / (float)STD_5BIT;
    b.d = lp_f32_to_f16(d);
    b.m = lp_f32_to_f16(-15.5f * d);
    random_bytes(r, b.qh, sizeof b.qh);
    random_bytes(r, b.qs, sizeof b.qs);
    memcpy(out, &b, sizeof b);
}

/* Q2_K: d*sc*q - dmin*m per 16, q in 0..3 (mean 1.5). With dmin = d and
 * sc in {6, 8, 10}, m = 1.5 sc fits 4 bits and centres each group exactly.
 * RMS of sc*(q - 1.5): sqrt(E[sc^2] = 200/3) * 1.1180 = 9.129. */
static void gen_q2_K(float sigma, rng *r, uint8_t *out)
{
    lp_block_q2_K b;
    float d = jitter(r) * sigma / 9.129f;
    b.d = b.dmin = lp_f32_to_f16(d);
    for (int j = 0; j < 16; j++) {
        int sc = 6 + 2 * uniform_int(r, 0, 2);
        b.scales[j] = (uint8_t)(sc | ((sc * 3 / 2) << 4));
    }
    random_bytes(r, b.qs, sizeof b.qs);
    memcpy(out, &b, sizeof b);
}

/* Q3_K: d * (sc - 32) * level, level in -4..3; every 6-bit scale is valid,
 * so the scale bytes are random too. RMS: sqrt(341.5 * 5.5) = 43.34. */
static void gen_q3_K(float sigma, rng *r, uint8_t *out)
{
    lp_block_q3_K b;
    b.d = lp_f32_to_f16(random_sign(r) * jitter(r) * sigma / 43.34f);
    random_bytes(r, b.hmask, sizeof b.hmask);
    random_bytes(r, b.qs, sizeof b.qs);
    random_bytes(r, b.scales, sizeof b.scales);
    memcpy(out, &b, sizeof b);
}

/* The 12-byte scale/min packing of Q4_K and Q5_K (ggml's get_scale_min_k4
 * read backwards): 6-bit values, the top bits of 4..7 above those of 0..3. */
static void pack_scale_min(const uint8_t sc[8], const uint8_t m[8], uint8_t q[12])
{
    for (int j = 0; j < 4; j++) {
        q[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        q[j + 4] = (uint8_t)(m[j] | ((m[j + 4] >> 4) << 6));
        q[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
    }
}

/* Q4_K / Q5_K: d*sc*q - dmin*m per 32, sc in 32..63 (RMS 48.39), dmin =
 * ratio * d and m = round(sc * mean_q / ratio) (< 64) centring each group. */
static void k_scales(rng *r, float mean_q, float ratio, uint8_t q[12])
{
    uint8_t sc[8], m[8];
    for (int j = 0; j < 8; j++) {
        sc[j] = (uint8_t)uniform_int(r, 32, 63);
        m[j] = (uint8_t)lrintf((float)sc[j] * mean_q / ratio);
    }
    pack_scale_min(sc, m, q);
}

static void gen_q4_K(float sigma, rng *r, uint8_t *out)
{
    lp_block_q4_K b;
    float d = jitter(r) * sigma / (float)(STD_4BIT * 48.39);
    b.d = lp_f32_to_f16(d);
    b.dmin = lp_f32_to_f16(8.0f * d);
    k_scales(r, 7.5f, 8.0f, b.scales);
    random_bytes(r, b.qs, sizeof b.qs);
    memcpy(out, &b, sizeof b);
}

static void gen_q5_K(float sigma, rng *r, uint8_t *out)
{
    lp_block_q5_K b;
    float d = jitter(r) * sigma / (float)(STD_5BIT * 48.39);
    b.d = lp_f32_to_f16(d);
    b.dmin = lp_f32_to_f16(16.0f * d);
    k_scales(r, 15.5f, 16.0f, b.scales);
    random_bytes(r, b.qh, sizeof b.qh);
    random_bytes(r, b.qs, sizeof b.qs);
    memcpy(out, &b, sizeof b);
}

/* Q6_K: d * sc * (q - 32), sc any int8. RMS: sqrt(5461.5 * 341.5) = 1365.7. */
static void gen_q6_K(float sigma, rng *r, uint8_t *out)
{
    lp_block_q6_K b;
    b.d = lp_f32_to_f16(random_sign(r) * jitter(r) * sigma / 1365.7f);
    random_bytes(r, b.ql, sizeof b.ql);
    random_bytes(r, b.qh, sizeof b.qh);
    random_bytes(r, (uint8_t *)b.scales, sizeof b.scales);
    memcpy(out, &b, sizeof b);
}

size_t synth_unit_elems(uint32_t type)
{
    switch (type) {
    case LP_TYPE_F32: case LP_TYPE_F16: case LP_TYPE_BF16:
        return 64;
    case LP_TYPE_Q4_0: case LP_TYPE_Q4_1: case LP_TYPE_Q5_0: case LP_TYPE_Q5_1:
    case LP_TYPE_Q8_0:
        return 32;
    case LP_TYPE_Q2_K: case LP_TYPE_Q3_K: case LP_TYPE_Q4_K: case LP_TYPE_Q5_K:
    case LP_TYPE_Q6_K:
        return LP_QK_K;
    default:
        return 0;
    }
}

size_t synth_unit_bytes(uint32_t type)
{
    size_t n = synth_unit_elems(type);
    return n ? lp_type_row_bytes(type, (int64_t)n) : 0;
}

void synth_gen_unit(uint32_t type, float sigma, uint64_t key, uint8_t *out)
{
    rng r = {key};
    switch (type) {
    case LP_TYPE_F32: case LP_TYPE_F16: case LP_TYPE_BF16:
        gen_float(type, sigma, &r, out);
        break;
    case LP_TYPE_Q4_0: gen_q4_0(sigma, &r, out); break;
    case LP_TYPE_Q4_1: gen_q4_1(sigma, &r, out); break;
    case LP_TYPE_Q5_0: gen_q5_0(sigma, &r, out); break;
    case LP_TYPE_Q5_1: gen_q5_1(sigma, &r, out); break;
    case LP_TYPE_Q8_0: gen_q8_0(sigma, &r, out); break;
    case LP_TYPE_Q2_K: gen_q2_K(sigma, &r, out); break;
    case LP_TYPE_Q3_K: gen_q3_K(sigma, &r, out); break;
    case LP_TYPE_Q4_K: gen_q4_K(sigma, &r, out); break;
    case LP_TYPE_Q5_K: gen_q5_K(sigma, &r, out); break;
    case LP_TYPE_Q6_K: gen_q6_K(sigma, &r, out); break;
    default:
        break;
    }
}
