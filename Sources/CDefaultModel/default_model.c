#include "default_model.h"

/* Defined in default_model.S. Swift cannot import arrays of unknown size, hence the functions. */
extern const unsigned char hrnet_default_weights_start[], hrnet_default_weights_end[];
extern const unsigned char hrnet_default_config_start[], hrnet_default_config_end[];

const unsigned char *hrnet_default_weights(void) { return hrnet_default_weights_start; }
size_t hrnet_default_weights_size(void) { return (size_t)(hrnet_default_weights_end - hrnet_default_weights_start); }
const unsigned char *hrnet_default_config(void) { return hrnet_default_config_start; }
size_t hrnet_default_config_size(void) { return (size_t)(hrnet_default_config_end - hrnet_default_config_start); }
