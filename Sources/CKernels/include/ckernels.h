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

/// Tiles [first, last) of a bf16 3x3 convolution (stride 1, padding 1) of nChw16c `src`
/// (`inputs` channels, h x w) into nChw16c `dst` (`outputs` channels): tile t is image
/// t / (th tw), rows 2 (t / tw % th) + 0..1, columns 2 (t % tw) + 0..1 (th, tw = h, w halved,
/// rounded up). `scratch` holds 16 x group x (2 inputs + 4 outputs) bytes, group = last - first
/// rounded up to 8. `sum`: add what dst holds (a residual) before the ReLU (`relu`).
/// `phases` 1: transform the input tiles [tile_from, tile_to) of the group (counted from
/// `first`); 2: the products and the outputs of the 16-output blocks [block_from, block_to) (all
/// tiles of the group, transformed before); 3: both. Threads share a group by splitting phase 1
/// by tiles, then phase 2 by output blocks (each reads only its blocks' weights).
void cdnnl_wino_bf16_tiles(uint16_t *dst, const uint16_t *src, const uint16_t *u, const float *bias, long inputs,
                           long outputs, long h, long w, long first, long last, void *scratch, int sum, int relu,
                           int phases, long tile_from, long tile_to, long block_from, long block_to);

#endif
