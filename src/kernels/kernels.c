/* kernels.c — ISA names, CPU detection, and filling a kernel table.
 *
 * This file is compiled without ISA flags, so it must run on any x86-64
 * (SSE2 only) or other CPU: it only asks cpuid/xgetbv and calls fillers.
 * A CPU may advertise AVX-512 while the OS does not save ZMM state (XCR0),
 * in which case using it would fault or corrupt registers; we check both. */
#include "kernels.h"

#include "gemm_impl.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

static const char *const k_isa_names[LP_ISA_COUNT] = {
    [LP_ISA_SCALAR] = "scalar",
    [LP_ISA_AVX2] = "avx2",
    [LP_ISA_AVX512] = "avx512",
    [LP_ISA_AVX512_VNNI] = "avx512vnni",
};

const char *lp_isa_name(lp_isa isa)
{
    if ((unsigned)isa >= LP_ISA_COUNT)
        return "unknown";
    return k_isa_names[isa];
}

int lp_isa_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < LP_ISA_COUNT; i++) {
        if (strcmp(s, k_isa_names[i]) == 0)
            return i;
    }
    return -1;
}

#if defined(__x86_64__)

/* XCR0 bits: the state components the OS saves on context switch. */
#define XCR0_SSE (1u << 1)
#define XCR0_AVX (1u << 2)        /* upper halves of YMM */
#define XCR0_OPMASK (1u << 5)     /* k0..k7 */
#define XCR0_ZMM_HI256 (1u << 6)  /* upper halves of ZMM0..15 */
#define XCR0_HI16_ZMM (1u << 7)   /* ZMM16..31 */

/* xgetbv without -mxsave: the instruction is plain XGETBV with ecx = 0. */
static uint64_t read_xcr0(void)
{
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (uint64_t)edx << 32 | eax;
}

static int has_bits(unsigned v, unsigned bits)
{
    return (v & bits) == bits;
}

lp_isa lp_cpu_best_isa(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return LP_ISA_SCALAR;
    /* leaf 1 ecx: FMA 12, OSXSAVE 27, AVX 28, F16C 29 */
    const unsigned l1_need = 1u << 12 | 1u << 27 | 1u << 28 | 1u << 29;
    if (!has_bits(c, l1_need))
        return LP_ISA_SCALAR;
    const uint64_t xcr0 = read_xcr0();
    if (!has_bits((unsigned)xcr0, XCR0_SSE | XCR0_AVX))
        return LP_ISA_SCALAR;
    if (__get_cpuid_max(0, NULL) < 7)
        return LP_ISA_SCALAR;
    __cpuid_count(7, 0, a, b, c, d);
    /* leaf 7 ebx: AVX2 5, AVX512F 16, AVX512DQ 17, AVX512BW 30, AVX512VL 31 */
    if (!(b & (1u << 5)))
        return LP_ISA_SCALAR;
    const unsigned avx512_need = 1u << 16 | 1u << 17 | 1u << 30 | 1u << 31;
    const unsigned zmm_state = XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM;
    if (!has_bits(b, avx512_need) || !has_bits((unsigned)xcr0, zmm_state))
        return LP_ISA_AVX2;
    /* leaf 7 ecx: AVX512_VNNI 11 */
    if (!(c & (1u << 11)))
        return LP_ISA_AVX512;
    return LP_ISA_AVX512_VNNI;
}

#else

lp_isa lp_cpu_best_isa(void)
{
    return LP_ISA_SCALAR;
}

#endif

int lp_kernels_init(lp_kernels *k, lp_isa isa, lp_err *err)
{
    if (!k)
        return lp_err_set(err, "lp_kernels_init: no table to fill");
    if ((unsigned)isa >= LP_ISA_COUNT)
        return lp_err_set(err, "unknown kernel ISA %d", (int)isa);
    const lp_isa best = lp_cpu_best_isa();
    if (isa > best)
        return lp_err_set(err, "this CPU (or OS) cannot run %s kernels; the best it supports is %s",
                          lp_isa_name(isa), lp_isa_name(best));
    memset(k, 0, sizeof *k);
    k->isa = isa;
    /* Each level overrides what it implements, so the table is complete. */
    lp_kernels_fill_scalar(k);
    lp_scalar_fill_float(k);
    if (isa >= LP_ISA_AVX2)
        lp_kernels_fill_avx2(k);
    if (isa >= LP_ISA_AVX512)
        lp_kernels_fill_avx512(k);
    if (isa >= LP_ISA_AVX512_VNNI)
        lp_kernels_fill_avx512_vnni(k);
    /* The tiled entries, each ISA over the last (gemm_impl.h). */
    if (isa >= LP_ISA_AVX512) {
        lp_avx512_fill_gemm_legacy(k);
        lp_avx512_fill_gemm_kquant(k);
        lp_avx512_fill_gemm_float(k);
    }
    if (isa >= LP_ISA_AVX512_VNNI) {
        lp_avx512vnni_fill_gemm_legacy(k);
        lp_avx512vnni_fill_gemm_kquant(k);
    }
    return 0;
}
