import ArgumentParser
import Foundation
import HRNet

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a model: parameters, GFLOP, its stages, branches and channels, and which checkpoint keys matched."
    )

    @OptionGroup var model: ModelOptions

    @Flag(help: "List the built-in presets and exit.")
    var listPresets = false

    func run() throws {
        if listPresets {
            print(Presets.names.joined(separator: "\n"))
            return
        }
        let config = try model.loadConfig()
        let net = HRNetModel(config: config)
        let input = net.inputShape()
        let flops = try net.graph.flops(input: input)
        let shapes = try net.graph.inferShapes(input: input)
        let outShapes = net.graph.outputs.map { shapes[$0.id] }
        print("model      \(config.modelName) (\(config.source))")
        switch config.architecture.head {
        case .pose(let j, _): print("task       pose estimation, \(j) joints")
        case .segmentation(let c, _, let ac, let ocr):
            print("task       segmentation, \(c) classes, align_corners \(ac ? "True" : "False")")
            if let ocr {
                print("head       OCR: \(ocr.midChannels) mid channels, \(ocr.keyChannels) key channels, dropout \(ocr.dropout); "
                      + "outputs [aux, main], TEST.OUTPUT_INDEX picks \(config.outputIndex == 0 ? "aux" : "main")")
            }
        case .classification(let s):
            print("task       classification, \(s.classes) classes (incre \(s.increPlanes.map { $0 * 4 }), final \(s.features), "
                  + "head conv bias \(s.convBias ? "yes" : "no"))")
        }
        print("input      3x\(input.h)x\(input.w) (IMAGE_SIZE \(config.imageSize.width)x\(config.imageSize.height), w x h)")
        print("output     " + outShapes.map { "\($0.c)x\($0.h)x\($0.w)" }.joined(separator: ", ")
              + (outShapes.count > 1 ? " (TEST.OUTPUT_INDEX reads output \(config.outputIndex))" : ""))
        print(String(format: "parameters %.2f M (%d)", Double(net.parameterCount) / 1e6, net.parameterCount))
        print(String(format: "GFLOP      %.2f at batch 1 (multiply-adds x 2)", flops / 1e9))
        print("")
        let a = config.architecture
        if let sb = a.simpleBaseline {
            print("backbone   ResNet-\(sb.depth): \(sb.block.rawValue) blocks \(sb.blocks), planes \(sb.planes) (input / 32)")
            print("deconv     \(sb.deconvFilters.count) transposed convolutions, stride 2: filters \(sb.deconvFilters), kernels \(sb.deconvKernels)"
                  + (sb.deconvBias ? ", with bias" : ""))
            print("colour     " + (config.colorRGB ? "R, G, B" : "B, G, R (DATASET.COLOR_RGB false, as the official resnet files)"))
        }
        if let hg = a.hourglass {
            print("hourglass  \(hg.stacks) stack\(hg.stacks == 1 ? "" : "s") of \(hg.downsampleTimes) levels: channels \(hg.stageChannels), "
                  + "BasicBlocks \(hg.stageBlocks), features \(hg.featureChannels); input sides multiples of \(hg.inputMultiple); "
                  + "the test reads stack \(config.outputIndex + 1)")
        }
        if let u = a.unet {
            print("U-Net      \(u.encoderConvs.count) stages from \(u.baseChannels) channels: encoder convs \(u.encoderConvs), decoder convs "
                  + "\(u.decoderConvs); FCN heads of \(u.headChannels) channels" + (u.auxiliaryHead ? " (decode and auxiliary)" : "")
                  + "; input sides multiples of \(1 << u.downsamplings)")
        }
        let isHRNet = a.family == "HRNet"
        if isHRNet { print("stage  modules  block       blocks per branch   channels per branch") }
        for (k, s) in (isHRNet ? [a.stage1] + a.stages : []).enumerated() {
            let line = "\(k + 1)".padding(toLength: 7, withPad: " ", startingAt: 0)
                + "\(s.modules)".padding(toLength: 9, withPad: " ", startingAt: 0)
                + s.block.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)
                + "\(s.blocks)".padding(toLength: 20, withPad: " ", startingAt: 0)
                + "\(s.outputChannels)"
            print(line)
        }
        if model.weights != nil {
            let (_, _, report) = try model.load(requireWeights: true)
            if let report {
                print("")
                print("checkpoint \(model.weights!): \(report.matched.count) of \(net.graph.parameters.count) keys matched"
                      + (report.missing.isEmpty ? "" : ", \(report.missing.count) missing (initial values)"))
            }
        }
    }
}
