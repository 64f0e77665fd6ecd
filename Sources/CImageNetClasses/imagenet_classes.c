#include "imagenet_classes.h"

/* Defined in imagenet_classes.S. Swift cannot import arrays of unknown size, hence the functions. */
extern const unsigned char hrnet_imagenet_classes_start[], hrnet_imagenet_classes_end[];

const unsigned char *hrnet_imagenet_classes(void) { return hrnet_imagenet_classes_start; }
size_t hrnet_imagenet_classes_size(void) { return (size_t)(hrnet_imagenet_classes_end - hrnet_imagenet_classes_start); }
