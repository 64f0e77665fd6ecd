/// Image classification with HRNet: `Classifier` (cls_hrnet / timm `hrnet_*` checkpoints),
/// softmax and top-k (`Scores`), class names (`ClassLabels`, ImageNet-1k built in).
@_exported import HRNet
