import XCTest
import HRNet
import TestSupport

final class ConfigTests: XCTestCase {
    func testTinyPoseConfig() throws {
        let c = try HRNetConfig.load(Fixtures.url("hrnet/tiny_pose.yaml"))
        XCTAssertEqual(c.task, .pose)
        XCTAssertEqual(c.imageSize.width, 64)
        XCTAssertEqual(c.imageSize.height, 96)
        XCTAssertEqual(c.heatmapSize.width, 16)
        XCTAssertEqual(c.architecture.stage1, StageSpec(modules: 1, branches: 1, block: .bottleneck, blocks: [1], channels: [8]))
        XCTAssertEqual(c.architecture.stages[1], StageSpec(modules: 2, branches: 3, block: .basic, blocks: [1, 1, 1], channels: [2, 4, 8]))
        XCTAssertEqual(c.architecture.head, .pose(joints: 5, finalKernel: 1))
        XCTAssertTrue(c.flipTest)
        XCTAssertTrue(c.colorRGB, "DATASET.COLOR_RGB true")
        // Left out: the official default (lib/config/default.py), false: B, G, R as OpenCV decodes.
        let text = try String(contentsOf: Fixtures.url("hrnet/tiny_pose.yaml"), encoding: .utf8)
        XCTAssertFalse(try HRNetConfig.parse(yaml: text.replacingOccurrences(of: "COLOR_RGB: true", with: ""), source: "x.yaml").colorRGB)
        XCTAssertTrue(try Presets.config(named: "pose_w32_256x192").colorRGB, "the official HRNet files say true")
    }

    /// Without STAGE1 a pose config gets the official pose_hrnet layer1 (4 Bottlenecks of 64).
    func testOfficialStyleConfigWithoutStage1() throws {
        let yaml = """
        AUTO_RESUME: true
        GPUS: (0,1,2,3)
        DATASET:
          DATASET: 'coco'
          FLIP: true
        MODEL:
          INIT_WEIGHTS: true
          NAME: pose_hrnet
          NUM_JOINTS: 17
          PRETRAINED: 'models/pytorch/imagenet/hrnet_w32-36af842e.pth'
          TARGET_TYPE: gaussian
          IMAGE_SIZE:
          - 192
          - 256
          HEATMAP_SIZE:
          - 48
          - 64
          SIGMA: 2
          EXTRA:
            PRETRAINED_LAYERS:
            - 'conv1'
            - '*'
            FINAL_CONV_KERNEL: 1
            STAGE2:
              NUM_MODULES: 1
              NUM_BRANCHES: 2
              BLOCK: BASIC
              NUM_BLOCKS: [4, 4]
              NUM_CHANNELS: [32, 64]
              FUSE_METHOD: SUM
            STAGE3:
              NUM_MODULES: 4
              NUM_BRANCHES: 3
              BLOCK: BASIC
              NUM_BLOCKS: [4, 4, 4]
              NUM_CHANNELS: [32, 64, 128]
              FUSE_METHOD: SUM
            STAGE4:
              NUM_MODULES: 3
              NUM_BRANCHES: 4
              BLOCK: BASIC
              NUM_BLOCKS: [4, 4, 4, 4]
              NUM_CHANNELS: [32, 64, 128, 256]
              FUSE_METHOD: SUM
        TEST:
          FLIP_TEST: true
        """
        let c = try HRNetConfig.parse(yaml: yaml, source: "w32.yaml")
        XCTAssertEqual(c.architecture.stage1, .officialPoseStage1)
        XCTAssertEqual(c.architecture, try Presets.config(named: "pose_w32_256x192").architecture)
        XCTAssertEqual(HRNetModel(config: c).parameterCount, 28_536_113)
    }

    /// The pose test's TEST keys are read; left out, they are what the official experiment files say.
    func testPoseTestKeys() throws {
        let text = try String(contentsOf: Fixtures.url("hrnet/tiny_pose.yaml"), encoding: .utf8)
        XCTAssertEqual(try HRNetConfig.parse(yaml: text, source: "tiny_pose.yaml").poseTest, PoseTestSettings())
        let changed = text.replacingOccurrences(of: "IN_VIS_THRE: 0.2", with: "IN_VIS_THRE: 0.5")
            .replacingOccurrences(of: "OKS_THRE: 0.9", with: "OKS_THRE: 0.7")
            .replacingOccurrences(of: "POST_PROCESS: true", with: "POST_PROCESS: false")
            .replacingOccurrences(of: "SHIFT_HEATMAP: true", with: "SHIFT_HEATMAP: false\n  SOFT_NMS: true")
        let t = try HRNetConfig.parse(yaml: changed, source: "changed.yaml").poseTest
        XCTAssertEqual([t.shiftHeatmap, t.postProcess, t.softNMS], [false, false, true])
        XCTAssertEqual(t.visibilityThreshold, 0.5)
        XCTAssertEqual(t.oksThreshold, 0.7)
        // TEST.IMAGE_THRE: the detected people a test keeps (0.0 in the official files).
        let image = text.replacingOccurrences(of: "IMAGE_THRE: 0.0", with: "IMAGE_THRE: 0.25")
        XCTAssertEqual(try HRNetConfig.parse(yaml: image, source: "image.yaml").poseTest.imageThreshold, 0.25)
        XCTAssertThrowsError(try HRNetConfig.parse(yaml: image.replacingOccurrences(of: "0.25", with: "1.5"), source: "image.yaml")) { e in
            XCTAssertTrue("\(e)".contains("image.yaml") && "\(e)".contains("TEST.IMAGE_THRE"), "\(e)")
        }
        let bad = text.replacingOccurrences(of: "IN_VIS_THRE: 0.2", with: "IN_VIS_THRE: 2")
        XCTAssertThrowsError(try HRNetConfig.parse(yaml: bad, source: "bad.yaml")) { e in
            XCTAssertTrue("\(e)".contains("bad.yaml") && "\(e)".contains("TEST.IN_VIS_THRE"), "\(e)")
        }
        // DarkPose's key: DARK decoding at this kernel; an even or absurd size names the key.
        XCTAssertNil(try HRNetConfig.parse(yaml: text, source: "t.yaml").poseTest.blurKernel)
        let dark = text.replacingOccurrences(of: "SHIFT_HEATMAP: true", with: "SHIFT_HEATMAP: true\n  BLUR_KERNEL: 3")
        XCTAssertEqual(try HRNetConfig.parse(yaml: dark, source: "dark.yaml").poseTest.blurKernel, 3)
        for k in ["4", "0", "1001"] {
            XCTAssertThrowsError(try HRNetConfig.parse(yaml: dark.replacingOccurrences(of: "BLUR_KERNEL: 3", with: "BLUR_KERNEL: \(k)"),
                                                       source: "k.yaml")) { e in
                XCTAssertTrue("\(e)".contains("k.yaml") && "\(e)".contains("TEST.BLUR_KERNEL"), "\(e)")
            }
        }
        let odd = text.replacingOccurrences(of: "SHIFT_HEATMAP: true", with: "SHIFT_HEATMAP: sometimes")
        XCTAssertThrowsError(try HRNetConfig.parse(yaml: odd, source: "odd.yaml")) { e in
            XCTAssertTrue("\(e)".contains("TEST.SHIFT_HEATMAP"), "\(e)")
        }
    }

    func testBrokenConfigsNameFileAndKey() {
        let cases: [(String, [String])] = [
            ("bad_yaml.yaml", ["bad_yaml.yaml", "not valid YAML"]),
            ("missing_stage.yaml", ["missing_stage.yaml", "MODEL.EXTRA.STAGE3", "missing"]),
            ("bad_channels.yaml", ["bad_channels.yaml", "STAGE3.NUM_CHANNELS", "2 entries", "NUM_BRANCHES is 3"]),
            ("unknown_model.yaml", ["unknown_model.yaml", "pose_mobilenet"]),
            ("does_not_exist.yaml", ["does_not_exist.yaml", "no such file"]),
        ]
        for (file, needles) in cases {
            XCTAssertThrowsError(try HRNetConfig.load(Fixtures.url("hrnet/broken/\(file)"))) { error in
                let s = "\(error)"
                for n in needles { XCTAssertTrue(s.contains(n), "\(file): '\(s)' lacks '\(n)'") }
            }
        }
        XCTAssertThrowsError(try HRNetConfig.parse(yaml: "- a\n- b\n", source: "list.yaml"))
        XCTAssertThrowsError(try HRNetConfig.parse(yaml: "MODEL:\n  NAME: pose_hrnet\n  NUM_JOINTS: -3\n", source: "neg.yaml")) { e in
            XCTAssertTrue("\(e)".contains("MODEL.NUM_JOINTS"), "\(e)")
        }
    }

    func testPresets() throws {
        // Parameter counts of the official models (counted from the official PyTorch code).
        let counts = ["pose_w32_256x192": 28_536_113, "pose_w48_384x288": 63_595_745, "seg_w48_cityscapes": 65_859_379]
        for (name, n) in counts {
            XCTAssertEqual(HRNetModel(config: try Presets.config(named: name)).parameterCount, n, name)
        }
        let w48 = try Presets.config(named: "pose_w48_384x288")
        XCTAssertEqual(w48.imageSize.width, 288)
        XCTAssertEqual(w48.imageSize.height, 384)
        for name in Presets.names { XCTAssertNoThrow(try Presets.config(named: name), name) }
        XCTAssertThrowsError(try Presets.config(named: "pose_w33")) { XCTAssertTrue("\($0)".contains("unknown width"), "\($0)") }
        XCTAssertThrowsError(try Presets.config(named: "pose_w32_250x190")) { XCTAssertTrue("\($0)".contains("multiples of 32"), "\($0)") }
        XCTAssertThrowsError(try Presets.config(named: "seg_w48_ade20k"))
    }

    /// The key names and shapes are exactly the official ones (lists written by the official
    /// code; see Tests/Fixtures/keys/README.md).
    func testOfficialKeySets() throws {
        for name in ["pose_w32_256x192", "pose_w48_384x288", "seg_w48_cityscapes"] {
            let text = try String(contentsOf: Fixtures.url("keys/\(name)_keys.txt"), encoding: .utf8)
            var official: [String: [Int]] = [:]
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                official[String(parts[0])] = parts.count > 1 ? parts[1].split(separator: ",").map { Int($0)! } : []
            }
            let ours = HRNetModel(config: try Presets.config(named: name)).graph.parameters
            XCTAssertEqual(Set(ours.map(\.key)), Set(official.keys), name)
            for p in ours { XCTAssertEqual(p.shape, official[p.key], "\(name) \(p.key)") }
        }
    }
}

extension ConfigTests {
    /// Sizes far beyond any HRNet are refused, so a hostile file cannot make us allocate without bound.
    func testAbsurdSizesAreRefused() throws {
        let base = try String(contentsOf: Fixtures.url("hrnet/tiny_pose.yaml"), encoding: .utf8)
        let huge = base.replacingOccurrences(of: "NUM_JOINTS: 5", with: "NUM_JOINTS: 1000000000")
        XCTAssertThrowsError(try HRNetConfig.parse(yaml: huge, source: "huge.yaml")) { XCTAssertTrue("\($0)".contains("MODEL.NUM_JOINTS"), "\($0)") }
        // A number beyond Int (the fuzzer's find: it trapped converting to Int) is an error naming the key.
        let beyond = base.replacingOccurrences(of: "NUM_JOINTS: 5", with: "NUM_JOINTS: 1.0e300")
        XCTAssertThrowsError(try HRNetConfig.parse(yaml: beyond, source: "beyond.yaml")) { XCTAssertTrue("\($0)".contains("MODEL.NUM_JOINTS"), "\($0)") }
    }
}

/// The training sections of the official pose files, with the official defaults for what they omit.
final class TrainingConfigTests: XCTestCase {
    func testReadsTheOfficialTrainingSections() throws {
        let c = try TrainingConfig.load(Fixtures.url("hrnet/tiny_pose.yaml"))
        XCTAssertEqual(c.batchSize, 32)
        XCTAssertEqual(c.optimizer, .adam)
        XCTAssertEqual(c.learningRate, 0.001)
        XCTAssertEqual(c.lrSteps, [170, 200])
        XCTAssertEqual(c.lrFactor, 0.1)
        XCTAssertEqual(c.endEpoch, 210)
        XCTAssertEqual(c.scaleFactor, 0.35)
        XCTAssertEqual(c.rotationFactor, 45)
        XCTAssertEqual(c.halfBodyProbability, 0.3)
        XCTAssertEqual(c.halfBodyJoints, 8)
        XCTAssertTrue(c.flip && c.useTargetWeight && !c.useOHKM)
        XCTAssertEqual(c.trainSet, "train2017")
        // Omitted fields: lib/config/default.py.
        let d = try TrainingConfig.parse(yaml: "MODEL: {NAME: pose_hrnet}", source: "x.yaml")
        XCTAssertEqual(d, TrainingConfig())
        XCTAssertEqual(d.endEpoch, 140)
        XCTAssertEqual(d.lrSteps, [90, 110])
        // Unbiased encoding: off as official, on with DarkPose's TEST.BLUR_KERNEL, the key wins.
        XCTAssertFalse(c.unbiasedEncoding)
        XCTAssertTrue(try TrainingConfig.parse(yaml: "TEST: {BLUR_KERNEL: 11}", source: "d.yaml").unbiasedEncoding)
        XCTAssertTrue(try TrainingConfig.parse(yaml: "DATASET: {UNBIASED_ENCODING: true}", source: "u.yaml").unbiasedEncoding)
        XCTAssertFalse(try TrainingConfig.parse(yaml: "DATASET: {UNBIASED_ENCODING: false}\nTEST: {BLUR_KERNEL: 11}", source: "u.yaml").unbiasedEncoding)
    }

    func testBadTrainingValuesNameTheKey() {
        for (yaml, words) in [("TRAIN: {OPTIMIZER: rmsprop}", "TRAIN.OPTIMIZER"), ("TRAIN: {LR: -1}", "TRAIN.LR"),
                              ("TRAIN: {BEGIN_EPOCH: 5, END_EPOCH: 5}", "TRAIN.END_EPOCH"), ("TRAIN: {BATCH_SIZE_PER_GPU: 0}", "BATCH_SIZE"),
                              ("DATASET: {SCALE_FACTOR: 1.5}", "SCALE_FACTOR"), ("MODEL: {TARGET_TYPE: offset}", "TARGET_TYPE"),
                              ("TRAIN: {LR_STEP: [a]}", "LR_STEP"), ("DATASET: {UNBIASED_ENCODING: 2}", "UNBIASED_ENCODING"), ("TRAIN: [", "not valid YAML")] {
            XCTAssertThrowsError(try TrainingConfig.parse(yaml: yaml, source: "bad.yaml")) { error in
                XCTAssertTrue("\(error)".contains(words) && "\(error)".contains("bad.yaml"), "\(yaml): \(error)")
            }
        }
    }
}

final class InitialParameterTests: XCTestCase {
    /// The official init_weights: conv weights N(0, 0.001), biases 0, BN 1 and 0, running 0 and 1.
    func testOfficialInitialParameters() throws {
        let model = HRNetModel(config: try HRNetConfig.load(Fixtures.url("hrnet/tiny_pose.yaml")))
        let p = model.initialParameters(seed: 4)
        XCTAssertEqual(Set(p.keys), Set(model.graph.parameters.map(\.key)))
        let conv = model.graph.parameters.filter { $0.shape.count == 4 }.flatMap { p[$0.key]!.scalars }
        let mean = conv.reduce(0, +) / Float(conv.count)
        let std = (conv.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(conv.count)).squareRoot()
        // ~1e4 draws: the sample std is within 3% of 0.001 and the mean within 4 standard errors of 0.
        XCTAssertEqual(std, 0.001, accuracy: 3e-5)
        XCTAssertEqual(mean, 0, accuracy: 4 * 0.001 / Float(conv.count).squareRoot())
        XCTAssertEqual(p["bn1.weight"]!.scalars, Array(repeating: 1, count: 64))
        XCTAssertEqual(p["bn1.bias"]!.scalars, Array(repeating: 0, count: 64))
        XCTAssertEqual(p["bn1.running_var"]!.scalars, Array(repeating: 1, count: 64))
        XCTAssertEqual(p["final_layer.bias"]!.scalars, Array(repeating: 0, count: 5))
        XCTAssertNotEqual(model.initialParameters(seed: 5)["conv1.weight"], p["conv1.weight"])
    }
}
