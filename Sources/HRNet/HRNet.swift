/// HRNet: configs (the official YAML files and built-in presets), the network built as a
/// `DNN.Graph` with the official checkpoint key names, and its task heads.
@_exported import DNN
