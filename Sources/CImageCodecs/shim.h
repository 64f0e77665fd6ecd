// libjpeg-turbo and libpng (Debian libjpeg62-turbo-dev, libpng-dev).
#ifndef HRNET_CIMAGECODECS_SHIM_H
#define HRNET_CIMAGECODECS_SHIM_H
#include <stdio.h>
#include <stddef.h>
#include <jpeglib.h>
#include <png.h>
#endif
