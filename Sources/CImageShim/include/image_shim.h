// A small C layer over libjpeg-turbo and libpng. Both libraries report fatal errors by
// non-local exits (libjpeg's default handler calls exit(), libpng longjmps), which Swift cannot
// catch; every entry point here sets up setjmp, installs handlers that copy the library's
// message and jump back, and returns a status code with that message instead.
#ifndef HRNET_IMAGE_SHIM_H
#define HRNET_IMAGE_SHIM_H

#include <stddef.h>
#include <stdint.h>

/// Status codes returned by every function below.
typedef enum {
    HR_OK = 0,
    HR_CORRUPT = 1,      ///< the library rejected the data (message says why)
    HR_TOO_LARGE = 2,    ///< the declared size exceeds the caller's pixel limit
    HR_EMPTY = 3,        ///< the declared size has zero width or height
    HR_NO_MEMORY = 4,    ///< allocation failed
    HR_BAD_ARGUMENT = 5  ///< caller error (size mismatch, bad quality)
} hr_status;

#define HR_MESSAGE_CAPACITY 200

/// What a header says, read before any pixel buffer is allocated.
typedef struct {
    int32_t width;
    int32_t height;
    int32_t components;   ///< JPEG: components in the file; PNG: channels before conversion
    int32_t colorspace;   ///< JPEG: J_COLOR_SPACE of the file; PNG: color type
    int32_t bit_depth;    ///< PNG only
    int32_t interlaced;   ///< PNG: 1 if Adam7; JPEG: 1 if progressive
    char message[HR_MESSAGE_CAPACITY];
} hr_info;

/// Reads a JPEG header. Fails with HR_EMPTY on a 0 dimension and HR_TOO_LARGE when
/// width * height > max_pixels.
int hr_jpeg_info(const uint8_t *data, size_t size, int64_t max_pixels, hr_info *info);

/// Decodes a JPEG to 8-bit RGB (integer slow IDCT, fancy upsampling: libjpeg-turbo's
/// defaults, as PIL and OpenCV use them). Grayscale is replicated to RGB; CMYK/YCCK are
/// converted with OpenCV's formula (see the .c file). `out` must hold width*height*3 bytes for
/// the size hr_jpeg_info reported. Truncated data is an error, not a grey-filled image.
int hr_jpeg_decode(const uint8_t *data, size_t size, int64_t max_pixels,
                   uint8_t *out, size_t out_capacity, hr_info *info);

/// Reads a PNG header (IHDR); checks as hr_jpeg_info.
int hr_png_info(const uint8_t *data, size_t size, int64_t max_pixels, hr_info *info);

/// Decodes a PNG to 8-bit RGB like cv2.imread(IMREAD_COLOR): 16-bit samples keep their high
/// byte (png_set_strip_16), palettes expand to RGB, gray replicates, alpha (including tRNS)
/// is dropped without blending, Adam7 interlacing is handled, no gamma correction.
int hr_png_decode(const uint8_t *data, size_t size, int64_t max_pixels,
                  uint8_t *out, size_t out_capacity, hr_info *info);

/// An encoder's output; free `data` with hr_free.
typedef struct {
    uint8_t *data;
    size_t size;
    char message[HR_MESSAGE_CAPACITY];
} hr_buffer;

/// Baseline JPEG, 4:2:0 chroma subsampling, integer DCT, quality 1...100.
int hr_jpeg_encode(const uint8_t *rgb, int32_t width, int32_t height, int32_t quality, hr_buffer *out);

/// 8-bit RGB PNG, non-interlaced, zlib level 6.
int hr_png_encode(const uint8_t *rgb, int32_t width, int32_t height, hr_buffer *out);

/// Decodes a single-channel label PNG to one byte per pixel without any value conversion:
/// 8-bit (or 1/2/4-bit, unpacked, not rescaled) grayscale gives the stored values, a palette
/// image its palette indices (what PIL's `np.array(Image.open(f))` gives for mode L and P).
/// Other colour types (RGB, alpha, 16-bit) fail with HR_BAD_ARGUMENT and a message naming the
/// type; `info->colorspace` and `info->bit_depth` hold the PNG colour type and depth.
/// `out` must hold width*height bytes.
int hr_png_decode_index(const uint8_t *data, size_t size, int64_t max_pixels,
                        uint8_t *out, size_t out_capacity, hr_info *info);

/// 8-bit grayscale PNG (label maps), non-interlaced, zlib level 6.
int hr_png_encode_gray(const uint8_t *gray, int32_t width, int32_t height, hr_buffer *out);

void hr_free(void *pointer);

#endif
