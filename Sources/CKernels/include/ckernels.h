// Engine kernels in C, compiled by clang at the package's optimization level (an inline
// function in an imported header is compiled through Swift's importer, where this kernel ran
// at 40% of its speed).
#ifndef HRNET_CKERNELS_H
#define HRNET_CKERNELS_H

#include <stdint.h>

/// Whether the CPU runs the bf16 Winograd kernel (AVX-512 with BF16).
int cdnnl_winograd_bf16_supported(void);

/// U[e][ob][k][16 outputs][2 inputs] (e the 16 tile elements, ob the 16-output blocks, k the
/// input-channel pairs) = G g Gᵀ of `oihw` fp32 weights, rounded to bf16; outputs and inputs
/// multiples of 16.
void cdnnl_wino_bf16_weights(const float *oihw, uint16_t *u, long outputs, long inputs);

/// Bytes the transformed input tiles of `tiles` tiles take (`input_tiles` below).
long cdnnl_wino_bf16_input_bytes(long tiles, long inputs);

/// Tiles whose products (over `blocks` 16-output blocks) fit a core's share of L2 (256 KiB).
long cdnnl_wino_bf16_chunk(long blocks);

/// Bytes the products of `chunk` tiles over at most `blocks` output blocks take (`products` below).
long cdnnl_wino_bf16_product_bytes(long chunk, long blocks);

/// Tiles [first, last) of a bf16 3x3 convolution (stride 1, padding 1) of nChw16c `src`
/// (`inputs` channels, h x w) into the 16-output blocks [block_from, block_to) of nChw16c `dst`
/// (`outputs` channels): tile t is image t / (th tw), rows 2 (t / tw % th) + 0..1, columns
/// 2 (t % tw) + 0..1 (th, tw = h, w halved, rounded up). `input_tiles` holds
/// cdnnl_wino_bf16_input_bytes(last - first, inputs) and `products`
/// cdnnl_wino_bf16_product_bytes(chunk, block_to - block_from), `chunk` a multiple of 8: the input
/// tiles are transformed first, then the products made and transformed back `chunk` tiles at a
/// time. `sum`: add what dst holds (a residual) before the ReLU (`relu`).
void cdnnl_wino_bf16_tiles(uint16_t *dst, const uint16_t *src, const uint16_t *u, const float *bias, long inputs,
                           long outputs, long h, long w, long first, long last, void *input_tiles, void *products,
                           long chunk, int sum, int relu, long block_from, long block_to);

#endif
