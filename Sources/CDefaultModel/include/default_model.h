#ifndef HRNET_DEFAULT_MODEL_H
#define HRNET_DEFAULT_MODEL_H
#include <stddef.h>

/* The embedded default pose model (see README.md beside this file): safetensors bytes and the
   official-format experiment YAML. */
const unsigned char *hrnet_default_weights(void);
size_t hrnet_default_weights_size(void);
const unsigned char *hrnet_default_config(void);
size_t hrnet_default_config_size(void);

#endif
