/* The embedded default person detector: its mmdetection-style config and weights, and its box
   refiner's experiment file and weights (a 4-keypoint pose HRNet), assembled
   into the binary (read-only data) so `hrnet detect` and `hrnet pose` on a photo need no file.
   The assembler finds the files through the target's header search path (Package.swift). */
    .section .rodata
    .balign 64
    .global hrnet_person_detector_weights_start
hrnet_person_detector_weights_start:
    .incbin "person_detector.safetensors"
    .global hrnet_person_detector_weights_end
hrnet_person_detector_weights_end:
    .balign 8
    .global hrnet_person_detector_config_start
hrnet_person_detector_config_start:
    .incbin "person_detector.py"
    .global hrnet_person_detector_config_end
hrnet_person_detector_config_end:
    .balign 64
    .global hrnet_box_refiner_weights_start
hrnet_box_refiner_weights_start:
    .incbin "box_refiner.safetensors"
    .global hrnet_box_refiner_weights_end
hrnet_box_refiner_weights_end:
    .balign 8
    .global hrnet_box_refiner_config_start
hrnet_box_refiner_config_start:
    .incbin "box_refiner.yaml"
    .global hrnet_box_refiner_config_end
hrnet_box_refiner_config_end:
    .section .note.GNU-stack,"",@progbits
