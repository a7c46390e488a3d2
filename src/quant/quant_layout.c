/* quant_layout.c — where each quant and scale of a K-quant block lives.
 *
 * ggml's loops walk these layouts with running pointers and shifts; here
 * each is one function of the element index, so the dequantizer and the
 * reference dots read the same bits by construction. Layouts from ggml's
 * dequantize_row_q{2..6}_K (ggml-quants.c). */
#include "quant_impl.h"

void lp_q3_K_scales(const uint8_t packed[LP_K_SCALE_SIZE], int8_t out[16])
{
    for (int j = 0; j < 16; j++) {
        int low = (packed[j % 8] >> (4 * (j / 8))) & 0xf;
        int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (int8_t)(low | high << 4);
    }
}

void lp_k4_scale_min(int j, const uint8_t q[LP_K_SCALE_SIZE], uint8_t *sc, uint8_t *mn)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        /* High 2 bits ride in the top of bytes 0..7. */
        *sc = (uint8_t)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *mn = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q2_K and Q3_K: each half of 128 values uses 32 bytes of qs; value
 * i = 128*half + 32*s + l takes bits 2s..2s+1 of qs[32*half + l]. */
int lp_q2_K_quant(const lp_block_q2_K *b, int i)
{
    int half = i / 128, r = i % 128;
    return (b->qs[32 * half + r % 32] >> (2 * (r / 32))) & 3;
}

int lp_q3_K_quant(const lp_block_q3_K *b, int i)
{
    int half = i / 128, r = i % 128;
    int low = (b->qs[32 * half + r % 32] >> (2 * (r / 32))) & 3;
    /* hmask is not split by halves: bit i/32 of byte i%32. */
    int high_set = (b->hmask[i % 32] >> (i / 32)) & 1;
    return low - (high_set ? 0 : 4);
}

/* Q4_K and Q5_K: each quarter of 64 values uses 32 bytes of qs, low
 * nibbles for its first 32 values and high nibbles for the next 32. */
int lp_q4_K_quant(const lp_block_q4_K *b, int i)
{
    uint8_t q = b->qs[32 * (i / 64) + i % 32];
    return (i % 64 < 32) ? (q & 0xf) : (q >> 4);
}

int lp_q5_K_quant(const lp_block_q5_K *b, int i)
{
    uint8_t q = b->qs[32 * (i / 64) + i % 32];
    int low = (i % 64 < 32) ? (q & 0xf) : (q >> 4);
    int high = (b->qh[i % 32] >> (i / 32)) & 1;
    return low | high << 4;
}

/* Q6_K: each half of 128 values uses 64 bytes of ql and 32 of qh; quarter
 * s (0..3) of the half takes nibble s/2 of ql[l + 32*(s%2)] and bits
 * 2s..2s+1 of qh[l]. */
int lp_q6_K_quant(const lp_block_q6_K *b, int i)
{
    int half = i / 128, r = i % 128, s = r / 32, l = r % 32;
    uint8_t lo = b->ql[64 * half + l + 32 * (s & 1)];
    int low4 = (s < 2) ? (lo & 0xf) : (lo >> 4);
    int high2 = (b->qh[32 * half + l] >> (2 * s)) & 3;
    return (low4 | high2 << 4) - 32;
}
