#include "default_detector.h"

/* Defined in default_detector.S. Swift cannot import arrays of unknown size, hence the functions. */
extern const unsigned char hrnet_person_detector_weights_start[], hrnet_person_detector_weights_end[];
extern const unsigned char hrnet_person_detector_config_start[], hrnet_person_detector_config_end[];
extern const unsigned char hrnet_box_refiner_weights_start[], hrnet_box_refiner_weights_end[];
extern const unsigned char hrnet_box_refiner_config_start[], hrnet_box_refiner_config_end[];

const unsigned char *hrnet_person_detector_weights(void) { return hrnet_person_detector_weights_start; }
size_t hrnet_person_detector_weights_size(void) { return (size_t)(hrnet_person_detector_weights_end - hrnet_person_detector_weights_start); }
const unsigned char *hrnet_person_detector_config(void) { return hrnet_person_detector_config_start; }
size_t hrnet_person_detector_config_size(void) { return (size_t)(hrnet_person_detector_config_end - hrnet_person_detector_config_start); }
const unsigned char *hrnet_box_refiner_weights(void) { return hrnet_box_refiner_weights_start; }
size_t hrnet_box_refiner_weights_size(void) { return (size_t)(hrnet_box_refiner_weights_end - hrnet_box_refiner_weights_start); }
const unsigned char *hrnet_box_refiner_config(void) { return hrnet_box_refiner_config_start; }
size_t hrnet_box_refiner_config_size(void) { return (size_t)(hrnet_box_refiner_config_end - hrnet_box_refiner_config_start); }
