#ifndef HRNET_IMAGENET_CLASSES_H
#define HRNET_IMAGENET_CLASSES_H
#include <stddef.h>

/* ImageNet-1k's classes as UTF-8 text: "WordNet ID<TAB>name\n" per class, index order. */
const unsigned char *hrnet_imagenet_classes(void);
size_t hrnet_imagenet_classes_size(void);

#endif
