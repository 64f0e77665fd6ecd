/* ImageNet-1k's class list (imagenet_classes.tsv: one "WordNet ID<TAB>name" line per class, in
   the standard index order), assembled into the binary's read-only data so every command has
   the names without a file beside it. Written by scripts/make_imagenet_classes.py. */
    .section .rodata
    .global hrnet_imagenet_classes_start
hrnet_imagenet_classes_start:
    .incbin "imagenet_classes.tsv"
    .global hrnet_imagenet_classes_end
hrnet_imagenet_classes_end:
    .section .note.GNU-stack,"",@progbits
