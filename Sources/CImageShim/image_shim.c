// setjmp-guarded wrappers around libjpeg-turbo and libpng (see include/image_shim.h).
#include "image_shim.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

static void hr_set_message(char *dst, const char *text) {
    if (dst == NULL) return;
    snprintf(dst, HR_MESSAGE_CAPACITY, "%s", text ? text : "unknown error");
}

static int hr_check_size(int64_t width, int64_t height, int64_t max_pixels, char *message) {
    if (width <= 0 || height <= 0) {
        snprintf(message, HR_MESSAGE_CAPACITY, "the header declares an empty image (%lld x %lld)",
                 (long long)width, (long long)height);
        return HR_EMPTY;
    }
    // Each side first, then the product by division: PNG sides reach 2^32 - 1, whose product
    // overflows 64 bits (found by fuzzing: it wrapped below the limit).
    if (width > max_pixels || height > max_pixels || width > max_pixels / height) {
        snprintf(message, HR_MESSAGE_CAPACITY,
                 "the header declares %lld x %lld = %.0f pixels, above the limit of %lld",
                 (long long)width, (long long)height, (double)width * (double)height, (long long)max_pixels);
        return HR_TOO_LARGE;
    }
    return HR_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* JPEG                                                                                        */

typedef struct {
    struct jpeg_error_mgr pub;   // must be first: libjpeg casts cinfo->err to this
    jmp_buf jump;
    char *message;
    int status;
} hr_jpeg_error;

static void hr_jpeg_error_exit(j_common_ptr cinfo) {
    hr_jpeg_error *err = (hr_jpeg_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    if (cinfo->err->msg_code == JERR_EMPTY_IMAGE) {
        err->status = HR_EMPTY;
        hr_set_message(err->message, "the header declares an empty image (0 rows or columns)");
    } else if (cinfo->err->msg_code == JERR_OUT_OF_MEMORY) {
        err->status = HR_NO_MEMORY;
        hr_set_message(err->message, text);
    } else {
        err->status = HR_CORRUPT;
        hr_set_message(err->message, text);
    }
    longjmp(err->jump, 1);
}

// Warnings: libjpeg pads a truncated stream with grey and only warns; we refuse such data
// (PIL refuses it too). The entropy decoder warns JWRN_HIT_MARKER when it needs bits that are
// not there: always fatal. JWRN_JPEG_EOF alone (the reader ran off the end) also comes from a
// sequential JPEG that lacks only its final EOI marker, whose pixels are all present: we
// accept that case, as OpenCV does; for progressive JPEGs it can mean missing refinement scans,
// so it is fatal there. Other warnings (e.g. extraneous bytes before a marker) are tolerated,
// as PIL and OpenCV tolerate them.
static void hr_jpeg_emit_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    int code = cinfo->err->msg_code;
    int fatal = code == JWRN_HIT_MARKER;
    if (code == JWRN_JPEG_EOF) {
        fatal = !cinfo->is_decompressor || ((j_decompress_ptr)cinfo)->progressive_mode;
    }
    if (fatal) {
        hr_jpeg_error *err = (hr_jpeg_error *)cinfo->err;
        char text[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, text);
        char full[HR_MESSAGE_CAPACITY];
        snprintf(full, sizeof full, "truncated or corrupt data (%s)", text);
        hr_set_message(err->message, full);
        err->status = HR_CORRUPT;
        longjmp(err->jump, 1);
    }
    cinfo->err->num_warnings++;
}

static void hr_jpeg_fill_info(struct jpeg_decompress_struct *cinfo, hr_info *info) {
    info->width = (int32_t)cinfo->image_width;
    info->height = (int32_t)cinfo->image_height;
    info->components = cinfo->num_components;
    info->colorspace = (int32_t)cinfo->jpeg_color_space;
    info->bit_depth = cinfo->data_precision;
    info->interlaced = cinfo->progressive_mode ? 1 : 0;
}

int hr_jpeg_info(const uint8_t *data, size_t size, int64_t max_pixels, hr_info *info) {
    struct jpeg_decompress_struct cinfo;
    hr_jpeg_error jerr;
    memset(info, 0, sizeof *info);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = hr_jpeg_error_exit;
    jerr.pub.emit_message = hr_jpeg_emit_message;
    jerr.message = info->message;
    jerr.status = HR_CORRUPT;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return jerr.status;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    hr_jpeg_fill_info(&cinfo, info);
    jpeg_destroy_decompress(&cinfo);
    return hr_check_size(info->width, info->height, max_pixels, info->message);
}

// CMYK to RGB as OpenCV does it (modules/imgcodecs/src/utils.cpp, icvCvt_CMYK2BGR_8u_C4C3R):
// the samples are Adobe-inverted, so c' = k - ((255 - c) * k >> 8) per channel.
static void hr_cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, int width) {
    for (int i = 0; i < width; i++, cmyk += 4, rgb += 3) {
        int k = cmyk[3];
        rgb[0] = (uint8_t)(k - (((255 - cmyk[0]) * k) >> 8));
        rgb[1] = (uint8_t)(k - (((255 - cmyk[1]) * k) >> 8));
        rgb[2] = (uint8_t)(k - (((255 - cmyk[2]) * k) >> 8));
    }
}

int hr_jpeg_decode(const uint8_t *data, size_t size, int64_t max_pixels,
                   uint8_t *out, size_t out_capacity, hr_info *info) {
    struct jpeg_decompress_struct cinfo;
    hr_jpeg_error jerr;
    uint8_t *volatile row = NULL;
    memset(info, 0, sizeof *info);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = hr_jpeg_error_exit;
    jerr.pub.emit_message = hr_jpeg_emit_message;
    jerr.message = info->message;
    jerr.status = HR_CORRUPT;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        return jerr.status;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    hr_jpeg_fill_info(&cinfo, info);
    int status = hr_check_size(info->width, info->height, max_pixels, info->message);
    if (status != HR_OK) {
        jpeg_destroy_decompress(&cinfo);
        return status;
    }
    if ((size_t)info->width * (size_t)info->height * 3 > out_capacity) {
        jpeg_destroy_decompress(&cinfo);
        hr_set_message(info->message, "output buffer too small");
        return HR_BAD_ARGUMENT;
    }
    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK;
        cmyk = 1;
        break;
    default: {
        char text[HR_MESSAGE_CAPACITY];
        snprintf(text, sizeof text, "unsupported JPEG colour space (%d components)", cinfo.num_components);
        hr_set_message(info->message, text);
        jpeg_destroy_decompress(&cinfo);
        return HR_CORRUPT;
    }
    }
    // libjpeg-turbo's defaults, stated so a change of library default cannot move our output.
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)info->width * 3;
    if (cmyk) {
        row = malloc((size_t)info->width * 4);
        if (row == NULL) {
            jpeg_destroy_decompress(&cinfo);
            hr_set_message(info->message, "out of memory");
            return HR_NO_MEMORY;
        }
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        size_t y = cinfo.output_scanline;
        if (cmyk) {
            JSAMPROW rows[1] = { row };
            jpeg_read_scanlines(&cinfo, rows, 1);
            hr_cmyk_to_rgb(row, out + y * stride, info->width);
        } else {
            JSAMPROW rows[1] = { out + y * stride };
            jpeg_read_scanlines(&cinfo, rows, 1);
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    return HR_OK;
}

int hr_jpeg_encode(const uint8_t *rgb, int32_t width, int32_t height, int32_t quality, hr_buffer *out) {
    struct jpeg_compress_struct cinfo;
    hr_jpeg_error jerr;
    unsigned char *buffer = NULL;
    unsigned long length = 0;
    memset(out, 0, sizeof *out);
    if (width <= 0 || height <= 0 || quality < 1 || quality > 100) {
        hr_set_message(out->message, "bad size or quality");
        return HR_BAD_ARGUMENT;
    }
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = hr_jpeg_error_exit;
    jerr.pub.emit_message = hr_jpeg_emit_message;
    jerr.message = out->message;
    jerr.status = HR_CORRUPT;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return jerr.status;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buffer, &length);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)width * 3;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW rows[1] = { (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * stride) };
        jpeg_write_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    out->data = buffer;
    out->size = length;
    return HR_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* PNG                                                                                         */

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t position;
} hr_png_source;

static void hr_png_error(png_structp png, png_const_charp text) {
    char *message = (char *)png_get_error_ptr(png);
    hr_set_message(message, text);
    png_longjmp(png, 1);
}

static void hr_png_warning(png_structp png, png_const_charp text) {
    (void)png; (void)text;  // ancillary-chunk problems: libpng already skipped the chunk
}

static void hr_png_read(png_structp png, png_bytep dst, size_t count) {
    hr_png_source *source = (hr_png_source *)png_get_io_ptr(png);
    if (count > source->size - source->position) png_error(png, "unexpected end of file (truncated PNG)");
    memcpy(dst, source->data + source->position, count);
    source->position += count;
}

static uint32_t hr_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

// Checks the signature and the IHDR size fields ourselves, so a 0 or huge size gets its own
// status before libpng sees the stream.
static int hr_png_precheck(const uint8_t *data, size_t size, int64_t max_pixels, hr_info *info) {
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        hr_set_message(info->message, "not a PNG signature");
        return HR_CORRUPT;
    }
    if (size < 33 || memcmp(data + 12, "IHDR", 4) != 0) {
        hr_set_message(info->message, "missing or truncated IHDR chunk");
        return HR_CORRUPT;
    }
    info->width = (int32_t)(hr_be32(data + 16) & 0x7fffffff);
    info->height = (int32_t)(hr_be32(data + 20) & 0x7fffffff);
    info->bit_depth = data[24];
    info->colorspace = data[25];
    info->interlaced = data[28];
    return hr_check_size((int64_t)hr_be32(data + 16), (int64_t)hr_be32(data + 20), max_pixels, info->message);
}

int hr_png_info(const uint8_t *data, size_t size, int64_t max_pixels, hr_info *info) {
    memset(info, 0, sizeof *info);
    return hr_png_precheck(data, size, max_pixels, info);
}

int hr_png_decode(const uint8_t *data, size_t size, int64_t max_pixels,
                  uint8_t *out, size_t out_capacity, hr_info *info) {
    memset(info, 0, sizeof *info);
    int status = hr_png_precheck(data, size, max_pixels, info);
    if (status != HR_OK) return status;
    if ((size_t)info->width * (size_t)info->height * 3 > out_capacity) {
        hr_set_message(info->message, "output buffer too small");
        return HR_BAD_ARGUMENT;
    }
    hr_png_source source = { data, size, 0 };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, info->message, hr_png_error, hr_png_warning);
    if (png == NULL) {
        hr_set_message(info->message, "out of memory");
        return HR_NO_MEMORY;
    }
    png_infop pinfo = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    if (pinfo == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        hr_set_message(info->message, "out of memory");
        return HR_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        free(rows);
        return HR_CORRUPT;
    }
    png_set_read_fn(png, &source, hr_png_read);
    png_read_info(png, pinfo);
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, pinfo, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    info->components = png_get_channels(png, pinfo);
    // The transforms cv2.imread(IMREAD_COLOR) asks libpng for (modules/imgcodecs/src/grfmt_png.cpp).
    if (bit_depth == 16) png_set_strip_16(png);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    // png_set_palette_to_rgb also turns a tRNS chunk into alpha; strip that alpha too.
    if ((color_type & PNG_COLOR_MASK_ALPHA) ||
        (color_type == PNG_COLOR_TYPE_PALETTE && png_get_valid(png, pinfo, PNG_INFO_tRNS)))
        png_set_strip_alpha(png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    size_t stride = (size_t)width * 3;
    if (png_get_rowbytes(png, pinfo) != stride) png_error(png, "unexpected row layout after conversion to RGB");
    rows = malloc(sizeof(png_bytep) * height);
    if (rows == NULL) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = out + (size_t)y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &pinfo, NULL);
    free(rows);
    return HR_OK;
}

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
} hr_png_sink;

static void hr_png_write(png_structp png, png_bytep src, size_t count) {
    hr_png_sink *sink = (hr_png_sink *)png_get_io_ptr(png);
    if (count > SIZE_MAX / 2 - sink->size) png_error(png, "output too large");
    if (sink->size + count > sink->capacity) {
        size_t capacity = sink->capacity ? sink->capacity : 65536;
        while (capacity < sink->size + count) capacity *= 2;
        uint8_t *grown = realloc(sink->data, capacity);
        if (grown == NULL) png_error(png, "out of memory");
        sink->data = grown;
        sink->capacity = capacity;
    }
    memcpy(sink->data + sink->size, src, count);
    sink->size += count;
}

static void hr_png_flush(png_structp png) { (void)png; }

int hr_png_encode(const uint8_t *rgb, int32_t width, int32_t height, hr_buffer *out) {
    memset(out, 0, sizeof *out);
    if (width <= 0 || height <= 0) {
        hr_set_message(out->message, "bad size");
        return HR_BAD_ARGUMENT;
    }
    hr_png_sink sink = { NULL, 0, 0 };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, out->message, hr_png_error, hr_png_warning);
    if (png == NULL) {
        hr_set_message(out->message, "out of memory");
        return HR_NO_MEMORY;
    }
    png_infop pinfo = png_create_info_struct(png);
    if (pinfo == NULL) {
        png_destroy_write_struct(&png, NULL);
        hr_set_message(out->message, "out of memory");
        return HR_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &pinfo);
        free(sink.data);
        return HR_CORRUPT;
    }
    png_set_write_fn(png, &sink, hr_png_write, hr_png_flush);
    png_set_IHDR(png, pinfo, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, pinfo);
    size_t stride = (size_t)width * 3;
    for (int32_t y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * stride));
    png_write_end(png, pinfo);
    png_destroy_write_struct(&png, &pinfo);
    out->data = sink.data;
    out->size = sink.size;
    return HR_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Label PNGs (one byte per pixel, values kept)                                                */

int hr_png_decode_index(const uint8_t *data, size_t size, int64_t max_pixels,
                        uint8_t *out, size_t out_capacity, hr_info *info) {
    memset(info, 0, sizeof *info);
    int status = hr_png_precheck(data, size, max_pixels, info);
    if (status != HR_OK) return status;
    int type = info->colorspace, depth = info->bit_depth;
    if (!((type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_PALETTE) && depth <= 8)) {
        const char *name = type == PNG_COLOR_TYPE_RGB ? "RGB" : type == PNG_COLOR_TYPE_RGB_ALPHA ? "RGBA"
            : type == PNG_COLOR_TYPE_GRAY_ALPHA ? "grayscale with alpha" : type == PNG_COLOR_TYPE_GRAY ? "grayscale"
            : type == PNG_COLOR_TYPE_PALETTE ? "palette" : "unknown";
        snprintf(info->message, HR_MESSAGE_CAPACITY,
                 "a label PNG must be 8-bit grayscale or palette (one class id per pixel); this one is %d-bit %s",
                 depth, name);
        return HR_BAD_ARGUMENT;
    }
    if ((size_t)info->width * (size_t)info->height > out_capacity) {
        hr_set_message(info->message, "output buffer too small");
        return HR_BAD_ARGUMENT;
    }
    hr_png_source source = { data, size, 0 };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, info->message, hr_png_error, hr_png_warning);
    if (png == NULL) {
        hr_set_message(info->message, "out of memory");
        return HR_NO_MEMORY;
    }
    png_infop pinfo = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    if (pinfo == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        hr_set_message(info->message, "out of memory");
        return HR_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        free(rows);
        return HR_CORRUPT;
    }
    png_set_read_fn(png, &source, hr_png_read);
    png_read_info(png, pinfo);
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, pinfo, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    info->components = png_get_channels(png, pinfo);
    // Unpack 1/2/4-bit samples to one byte each, keeping their values (no palette expansion,
    // no gray rescaling): the stored class ids.
    if (bit_depth < 8) png_set_packing(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    size_t stride = (size_t)width;
    if (png_get_rowbytes(png, pinfo) != stride) png_error(png, "unexpected row layout for a one-byte label map");
    rows = malloc(sizeof(png_bytep) * height);
    if (rows == NULL) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++) rows[y] = out + (size_t)y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &pinfo, NULL);
    free(rows);
    return HR_OK;
}

int hr_png_encode_gray(const uint8_t *gray, int32_t width, int32_t height, hr_buffer *out) {
    memset(out, 0, sizeof *out);
    if (width <= 0 || height <= 0) {
        hr_set_message(out->message, "bad size");
        return HR_BAD_ARGUMENT;
    }
    hr_png_sink sink = { NULL, 0, 0 };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, out->message, hr_png_error, hr_png_warning);
    if (png == NULL) {
        hr_set_message(out->message, "out of memory");
        return HR_NO_MEMORY;
    }
    png_infop pinfo = png_create_info_struct(png);
    if (pinfo == NULL) {
        png_destroy_write_struct(&png, NULL);
        hr_set_message(out->message, "out of memory");
        return HR_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &pinfo);
        free(sink.data);
        return HR_CORRUPT;
    }
    png_set_write_fn(png, &sink, hr_png_write, hr_png_flush);
    png_set_IHDR(png, pinfo, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, pinfo);
    for (int32_t y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(gray + (size_t)y * (size_t)width));
    png_write_end(png, pinfo);
    png_destroy_write_struct(&png, &pinfo);
    out->data = sink.data;
    out->size = sink.size;
    return HR_OK;
}

void hr_free(void *pointer) { free(pointer); }
