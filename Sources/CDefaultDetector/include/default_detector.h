#ifndef HRNET_DEFAULT_DETECTOR_H
#define HRNET_DEFAULT_DETECTOR_H
#include <stddef.h>

/* The embedded default person detector (see README.md beside this file): safetensors bytes
   with mmdetection's key names and its mmdetection-style Python config. */
const unsigned char *hrnet_person_detector_weights(void);
size_t hrnet_person_detector_weights_size(void);
const unsigned char *hrnet_person_detector_config(void);
size_t hrnet_person_detector_config_size(void);
/* Its box refiner: safetensors bytes with the official pose HRNet keys, its experiment YAML. */
const unsigned char *hrnet_box_refiner_weights(void);
size_t hrnet_box_refiner_weights_size(void);
const unsigned char *hrnet_box_refiner_config(void);
size_t hrnet_box_refiner_config_size(void);

#endif
