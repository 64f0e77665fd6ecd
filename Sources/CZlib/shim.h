// The system zlib (Debian zlib1g-dev), for the miCOMPRESSED elements of MATLAB v7 MAT-files.
#ifndef HRNET_CZLIB_SHIM_H
#define HRNET_CZLIB_SHIM_H

#include <zlib.h>

/// inflateInit is a macro (it passes ZLIB_VERSION and sizeof(z_stream)); Swift does not import it.
static inline int czlib_inflate_init(z_stream *stream) { return inflateInit(stream); }

#endif
