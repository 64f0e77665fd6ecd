// Rows of the engine's bf16 resize (HRNet's fusion upsampling and the segmentation head's): one
// pixel is a 16-channel block of bf16 (32 bytes), read as 16 fp32 lanes. Swift compiles for the
// x86-64 baseline (SSE2), where the bf16 <-> fp32 conversions take 3x the time of the fp32 kernel
// moving twice the bytes; these functions are compiled for AVX-512 and called only where the CPU
// has it (cdnnl_bf16_rows_supported), which every CPU running bf16 plans does.
#ifndef HRNET_CDNNL_BF16_ROWS_H
#define HRNET_CDNNL_BF16_ROWS_H

#include <immintrin.h>
#include <stdint.h>

static inline int cdnnl_bf16_rows_supported(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

#define CDNNL_AVX512 __attribute__((target("avx512f,avx512bw")))

static inline CDNNL_AVX512 __m512 cdnnl_bf16_load(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}

/// Rounds to nearest even (as oneDNN and the Swift kernels do) and stores 16 bf16.
static inline CDNNL_AVX512 void cdnnl_bf16_store(uint16_t *p, __m512 v) {
    __m512i bits = _mm512_castps_si512(v);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    bits = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(0x7FFF)), lsb), 16);
    _mm256_storeu_si256((__m256i *)p, _mm512_cvtepi32_epi16(bits));
}

/// dst[j] = [base[j] +] src[cols[j]] [then ReLU] for j < width (nearest: every output copies one input).
static inline CDNNL_AVX512 void cdnnl_bf16_nearest_row(uint16_t *dst, const uint16_t *src, const uint16_t *base,
                                                       const int32_t *cols, long width, int relu) {
    const __m512 zero = _mm512_setzero_ps();
    for (long j = 0; j < width; j++) {
        __m512 v = cdnnl_bf16_load(src + (long)cols[j] * 16);
        if (base) v = _mm512_add_ps(v, cdnnl_bf16_load(base + j * 16));
        if (relu) v = _mm512_max_ps(v, zero);
        cdnnl_bf16_store(dst + j * 16, v);
    }
}

/// Bilinear: rows r0 and r1 (weight wy toward r1), columns lo[j] and hi[j] (weight wx[j] toward hi),
/// in the Swift kernel's order of operations; then [+ base] [ReLU].
static inline CDNNL_AVX512 void cdnnl_bf16_bilinear_row(uint16_t *dst, const uint16_t *r0, const uint16_t *r1, float wy,
                                                        const int32_t *lo, const int32_t *hi, const float *wx,
                                                        const uint16_t *base, long width, int relu) {
    const __m512 zero = _mm512_setzero_ps(), y = _mm512_set1_ps(wy);
    for (long j = 0; j < width; j++) {
        const long c0 = (long)lo[j] * 16, c1 = (long)hi[j] * 16;
        const __m512 x = _mm512_set1_ps(wx[j]);
        const __m512 a = cdnnl_bf16_load(r0 + c0), b = cdnnl_bf16_load(r0 + c1);
        const __m512 c = cdnnl_bf16_load(r1 + c0), d = cdnnl_bf16_load(r1 + c1);
        const __m512 top = _mm512_add_ps(a, _mm512_mul_ps(_mm512_sub_ps(b, a), x));
        const __m512 bottom = _mm512_add_ps(c, _mm512_mul_ps(_mm512_sub_ps(d, c), x));
        __m512 v = _mm512_add_ps(top, _mm512_mul_ps(_mm512_sub_ps(bottom, top), y));
        if (base) v = _mm512_add_ps(v, cdnnl_bf16_load(base + j * 16));
        if (relu) v = _mm512_max_ps(v, zero);
        cdnnl_bf16_store(dst + j * 16, v);
    }
}

#undef CDNNL_AVX512
#endif
