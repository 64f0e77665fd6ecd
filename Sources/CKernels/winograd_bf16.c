// bf16 Winograd F(2x2, 3x3) convolution (stride 1, padding 1), which oneDNN 2.6 lacks: its bf16
// 3x3 convolutions run direct, 36 multiplications per 2x2 outputs where this does 16.
// Activations are the plans' bf16 nChw16c (one pixel of a 16-channel block is 16 bf16); each
// 4x4 input tile is transformed in fp32 (V = Bᵀ d B) and rounded to bf16, the 16 element-wise
// products summed over the input channels with AVX512-BF16 dot products (fp32 sums), and each
// product's 2x2 outputs transformed back in fp32 (Y = Aᵀ M A) with the bias, the residual (sum
// post-op) and ReLU. Weights are U = G g Gᵀ in fp32, rounded to bf16. Matrices: Lavin & Gray,
// "Fast Algorithms for Convolutional Neural Networks" (2016), F(2x2, 3x3).
// Compiled for AVX-512 with BF16 and called only where the CPU has it.
#include "ckernels.h"
#include <immintrin.h>
#include <string.h>

#define CDNNL_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

int cdnnl_winograd_bf16_supported(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16");
}

/// Tiles per group of the dot-product kernel (8 tiles x 2 output blocks: 16 accumulators).
#define CDNNL_WINO_GROUP 8

/// Bytes between the 16 tile elements' slices of the scratch, one cache line more than the slice:
/// slices a power of two apart (e.g. 64 tiles x 32 channels x 2 bytes = 4 KiB) put the 16 lines a
/// tile's transforms touch in one L1 set (12 ways) and, through the physical pages, in few L2 sets.
static inline long cdnnl_wino_slice(long tiles, long channels, long bytes) { return tiles * channels * bytes + 64; }

static inline long cdnnl_wino_round(long tiles) { return (tiles + CDNNL_WINO_GROUP - 1) / CDNNL_WINO_GROUP * CDNNL_WINO_GROUP; }

long cdnnl_wino_bf16_input_bytes(long tiles, long inputs) { return 16 * cdnnl_wino_slice(cdnnl_wino_round(tiles), inputs, 2); }

long cdnnl_wino_bf16_chunk(long blocks) {
    const long chunk = 256 * 1024 / (16 * 64 * blocks) / CDNNL_WINO_GROUP * CDNNL_WINO_GROUP;
    return chunk < CDNNL_WINO_GROUP ? CDNNL_WINO_GROUP : chunk;
}

long cdnnl_wino_bf16_product_bytes(long chunk, long blocks) { return 16 * cdnnl_wino_slice(chunk, blocks * 16, 4); }

static inline uint16_t cdnnl_wino_round_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7FFF + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/// U[e][ob][k][16 outputs][2 inputs] (e the 16 tile elements, ob the 16-output blocks, k the
/// input-channel pairs) from `oihw` fp32 weights, outputs and inputs multiples of 16.
void cdnnl_wino_bf16_weights(const float *oihw, uint16_t *u, long outputs, long inputs) {
    const float g[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
    const long blocks = outputs / 16, pairs = inputs / 2;
    for (long o = 0; o < outputs; o++)
        for (long c = 0; c < inputs; c++) {
            const float *w = oihw + (o * inputs + c) * 9;
            float t[4][3];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 3; j++) t[i][j] = g[i][0] * w[j] + g[i][1] * w[3 + j] + g[i][2] * w[6 + j];
            for (int e = 0; e < 16; e++) {
                const int i = e / 4, j = e % 4;
                const float v = t[i][0] * g[j][0] + t[i][1] * g[j][1] + t[i][2] * g[j][2];
                u[(((e * blocks + o / 16) * pairs + c / 2) * 16 + o % 16) * 2 + c % 2] = cdnnl_wino_round_bf16(v);
            }
        }
}

static inline CDNNL_AVX512_BF16 __m512 cdnnl_wino_load(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}

/// Rounds to nearest even, as oneDNN does.
static inline CDNNL_AVX512_BF16 void cdnnl_wino_store(uint16_t *p, __m512 v) {
    _mm256_storeu_si256((__m256i *)p, (__m256i)_mm512_cvtneps_pbh(v));
}

/// m[t][0..31] = sum over k of v[t][2k..2k+1] . u{0,1}[k] for CDNNL_WINO_GROUP tiles t (rows of
/// `in` bf16 apart in v, `out` floats apart in m); `two` output blocks (u1 unused when 0).
static inline CDNNL_AVX512_BF16 void cdnnl_wino_dot(const uint16_t *v, const uint16_t *u0, const uint16_t *u1, float *m,
                                                    long pairs, long in, long out, int two) {
    __m512 a0[CDNNL_WINO_GROUP], a1[CDNNL_WINO_GROUP];
    for (int t = 0; t < CDNNL_WINO_GROUP; t++) a0[t] = a1[t] = _mm512_setzero_ps();
    if (two) {
        for (long k = 0; k < pairs; k++) {
            const __m512bh w0 = (__m512bh)_mm512_loadu_si512(u0 + k * 32), w1 = (__m512bh)_mm512_loadu_si512(u1 + k * 32);
            for (int t = 0; t < CDNNL_WINO_GROUP; t++) {
                int32_t pair;
                memcpy(&pair, v + t * in + 2 * k, 4);
                const __m512bh x = (__m512bh)_mm512_set1_epi32(pair);
                a0[t] = _mm512_dpbf16_ps(a0[t], x, w0);
                a1[t] = _mm512_dpbf16_ps(a1[t], x, w1);
            }
        }
        for (int t = 0; t < CDNNL_WINO_GROUP; t++) {
            _mm512_storeu_ps(m + t * out, a0[t]);
            _mm512_storeu_ps(m + t * out + 16, a1[t]);
        }
    } else {
        for (long k = 0; k < pairs; k++) {
            const __m512bh w0 = (__m512bh)_mm512_loadu_si512(u0 + k * 32);
            for (int t = 0; t < CDNNL_WINO_GROUP; t++) {
                int32_t pair;
                memcpy(&pair, v + t * in + 2 * k, 4);
                a0[t] = _mm512_dpbf16_ps(a0[t], (__m512bh)_mm512_set1_epi32(pair), w0);
            }
        }
        for (int t = 0; t < CDNNL_WINO_GROUP; t++) _mm512_storeu_ps(m + t * out, a0[t]);
    }
}

/// Tiles [first, last) of the convolution (tile t: image t / (th tw), rows 2 (t / tw % th) + 0..1,
/// columns 2 (t % tw) + 0..1); see ckernels.h for the scratch.
CDNNL_AVX512_BF16 void cdnnl_wino_bf16_tiles(uint16_t *dst, const uint16_t *src, const uint16_t *u,
                                             const float *bias, long inputs, long outputs, long h, long w,
                                             long first, long last, void *input_tiles, void *products, long chunk,
                                             int sum, int relu, long block_from, long block_to) {
    const long th = (h + 1) / 2, tw = (w + 1) / 2, count = last - first, group = cdnnl_wino_round(count);
    const long iblocks = inputs / 16, oblocks = outputs / 16, pairs = inputs / 2, plane = h * w * 16;
    // v[16][group][inputs] bf16, slices `vs` elements apart.
    const long vs = cdnnl_wino_slice(group, inputs, 2) / 2;
    uint16_t *v = (uint16_t *)input_tiles;
    const __m512 zero = _mm512_setzero_ps();
    // V = Bᵀ d B, Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; tiles past `last` are zeros. Along
    // a row of tiles, neighbours share two of their four columns: each column's vertical
    // transform (Bᵀ d) is made once and slides left by two columns from tile to tile.
    for (long t = 0; t < group;) {
        if (t >= count) {
            for (int e = 0; e < 16; e++) memset(v + e * vs + t * inputs, 0, (size_t)(group - t) * inputs * 2);
            break;
        }
        const long image = (first + t) / (th * tw), ty = (first + t) / tw % th, tx0 = (first + t) % tw;
        const long run = tw - tx0 < count - t ? tw - tx0 : count - t;
        for (long cb = 0; cb < iblocks; cb++) {
            const uint16_t *s = src + (image * iblocks + cb) * plane;
            const uint16_t *rows[4];
            for (int i = 0; i < 4; i++) {
                const long y = 2 * ty - 1 + i;
                rows[i] = y >= 0 && y < h ? s + y * w * 16 : 0;
            }
            __m512 r[4][4];
            // Bᵀ d of column x into r[.][j].
#define CDNNL_WINO_COLUMN(j, x)                                                                              \
            do {                                                                                             \
                __m512 d[4];                                                                                 \
                for (int i = 0; i < 4; i++)                                                                  \
                    d[i] = rows[i] && (x) >= 0 && (x) < w ? cdnnl_wino_load(rows[i] + (x) * 16) : zero;      \
                r[0][j] = _mm512_sub_ps(d[0], d[2]);                                                         \
                r[1][j] = _mm512_add_ps(d[1], d[2]);                                                         \
                r[2][j] = _mm512_sub_ps(d[2], d[1]);                                                         \
                r[3][j] = _mm512_sub_ps(d[1], d[3]);                                                         \
            } while (0)
            CDNNL_WINO_COLUMN(0, 2 * tx0 - 1);
            CDNNL_WINO_COLUMN(1, 2 * tx0);
            for (long k = 0; k < run; k++) {
                const long tx = tx0 + k;
                CDNNL_WINO_COLUMN(2, 2 * tx + 1);
                CDNNL_WINO_COLUMN(3, 2 * tx + 2);
                for (int i = 0; i < 4; i++) {
                    uint16_t *o = v + i * 4 * vs + (t + k) * inputs + cb * 16;
                    cdnnl_wino_store(o, _mm512_sub_ps(r[i][0], r[i][2]));
                    cdnnl_wino_store(o + vs, _mm512_add_ps(r[i][1], r[i][2]));
                    cdnnl_wino_store(o + 2 * vs, _mm512_sub_ps(r[i][2], r[i][1]));
                    cdnnl_wino_store(o + 3 * vs, _mm512_sub_ps(r[i][1], r[i][3]));
                    r[i][0] = r[i][2];
                    r[i][1] = r[i][3];
                }
            }
#undef CDNNL_WINO_COLUMN
        }
        t += run;
    }
    if (block_to > oblocks) block_to = oblocks;
    const long blocks = block_to - block_from, width = blocks * 16;
    if (blocks <= 0) return;
    // m[16][chunk][width] fp32 (slices `ms` apart): the products of `chunk` tiles and this call's
    // output blocks, transformed back before the next chunk, so they stay in the core's cache.
    const long ms = cdnnl_wino_slice(chunk, width, 4) / 4;
    float *m = (float *)products;
    for (long c0 = 0; c0 < count; c0 += chunk) {
        const long c1 = c0 + chunk < group ? c0 + chunk : group, end = c0 + chunk < count ? c0 + chunk : count;
        // M[e] = V[e] U[e], 16 products of (tiles x inputs) by (inputs x outputs).
        for (int e = 0; e < 16; e++) {
            const uint16_t *ve = v + e * vs, *ue = u + e * oblocks * pairs * 32;
            float *me = m + e * ms;
            for (long t = c0; t < c1; t += CDNNL_WINO_GROUP) {
                long ob = block_from;
                for (; ob + 1 < block_to; ob += 2)
                    cdnnl_wino_dot(ve + t * inputs, ue + ob * pairs * 32, ue + (ob + 1) * pairs * 32,
                                   me + (t - c0) * width + (ob - block_from) * 16, pairs, inputs, width, 1);
                if (ob < block_to)
                    cdnnl_wino_dot(ve + t * inputs, ue + ob * pairs * 32, 0, me + (t - c0) * width + (ob - block_from) * 16,
                                   pairs, inputs, width, 0);
            }
        }
        // Y = Aᵀ M A, Aᵀ = [1 1 1 0; 0 1 -1 -1]; + bias [+ dst] [ReLU].
        for (long t = c0; t < end; t++) {
            const long image = (first + t) / (th * tw), ty = (first + t) / tw % th, tx = (first + t) % tw;
            for (long ob = block_from; ob < block_to; ob++) {
                const __m512 b = _mm512_loadu_ps(bias + ob * 16);
                uint16_t *out = dst + (image * oblocks + ob) * plane;
                __m512 p[4][4];
                for (int e = 0; e < 16; e++) p[e / 4][e % 4] = _mm512_loadu_ps(m + e * ms + (t - c0) * width + (ob - block_from) * 16);
                for (int i = 0; i < 2; i++) {
                    const long y = 2 * ty + i;
                    if (y >= h) break;
                    __m512 s[4];
                    for (int j = 0; j < 4; j++)
                        s[j] = i == 0 ? _mm512_add_ps(_mm512_add_ps(p[0][j], p[1][j]), p[2][j])
                                      : _mm512_sub_ps(_mm512_sub_ps(p[1][j], p[2][j]), p[3][j]);
                    __m512 y0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]), b);
                    __m512 y1 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3]), b);
                    uint16_t *o0 = out + (y * w + 2 * tx) * 16;
                    if (sum) y0 = _mm512_add_ps(y0, cdnnl_wino_load(o0));
                    if (relu) y0 = _mm512_max_ps(y0, zero);
                    cdnnl_wino_store(o0, y0);
                    if (2 * tx + 1 < w) {
                        if (sum) y1 = _mm512_add_ps(y1, cdnnl_wino_load(o0 + 16));
                        if (relu) y1 = _mm512_max_ps(y1, zero);
                        cdnnl_wino_store(o0 + 16, y1);
                    }
                }
            }
        }
    }
}
