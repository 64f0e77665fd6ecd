// Imaging: RGB images at the API; JPEG (libjpeg-turbo) and PNG (libpng) decode and encode,
// EXIF orientation, affine warps that match OpenCV, and drawing for pose results.
