/* The embedded default pose model: its experiment file and weights, assembled into the binary
   (read-only data) so `hrnet pose` and `hrnet demo` need no file. The assembler finds the
   files through the target's header search path (Package.swift: headerSearchPath "."). */
    .section .rodata
    .balign 64
    .global hrnet_default_weights_start
hrnet_default_weights_start:
    .incbin "pose_default.safetensors"
    .global hrnet_default_weights_end
hrnet_default_weights_end:
    .balign 8
    .global hrnet_default_config_start
hrnet_default_config_start:
    .incbin "pose_default.yaml"
    .global hrnet_default_config_end
hrnet_default_config_end:
    .section .note.GNU-stack,"",@progbits
