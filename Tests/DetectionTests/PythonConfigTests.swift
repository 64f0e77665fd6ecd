import Foundation
import XCTest

@testable import Detection

/// The Python-config reader: the literal subset, mmengine's `_base_` rules, mmdet's real HRNet
/// configs and their checkpoint form (`pretty_text`), and refusals of everything else.
final class PythonConfigTests: XCTestCase {
    /// Tests/Fixtures/detection/configs: mmdet 3.3.0's files keep their relative layout.
    static let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/detection/configs")

    func parse(_ text: String, name: String = "t.py") throws -> PythonConfig {
        try PythonConfig.parse(text: text, name: name)
    }

    /// Writes `files` (relative path -> text) into a fresh directory.
    func directory(_ files: [String: String]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("pyconfig-\(UUID().uuidString)")
        for (path, text) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// The error `body` throws, which must be a PythonConfigError of `kind` at `line`, its
    /// description holding `fragment`.
    func assertFails(
        _ kind: PythonConfigError.Kind, line expectedLine: Int?, _ fragment: String,
        file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void
    ) {
        do {
            try body()
            XCTFail("expected an error containing \"\(fragment)\"", file: file, line: line)
        } catch let error as PythonConfigError {
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            XCTAssertEqual(error.line, expectedLine, "\(error)", file: file, line: line)
            XCTAssertTrue(
                error.description.contains(fragment), "\"\(error)\" lacks \"\(fragment)\"", file: file,
                line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    func assertParseFails(
        _ text: String, _ kind: PythonConfigError.Kind, line expectedLine: Int?, _ fragment: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        assertFails(kind, line: expectedLine, fragment, file: file, line: line) {
            _ = try parse(text, name: "bad.py")
        }
    }

    // MARK: The subset

    func testNumbersAndArithmeticFollowPython() throws {
        let c = try parse(
            """
            a = 1_000 + 0x1F + 0o17 + 0b101
            b = (1e-4, .5, 1., 2.5E3, 1_0.5)
            c = -2 ** 2
            d = 2 ** -1
            e = (7 // 2, -7 // 2, -7 % 3, 7 % -3, 7 / 2, 2 ** 10)
            f = (7.5 // 2, -7.5 % 2, 1.0 / 4 * 2, 10 - 3 - 2)
            g = (+3, - -3, -(1 + 2) * 3, True + 1, 68760 * 2 * 2)
            h = 1.0 / 3
            """)
        XCTAssertEqual(c.values["a"], .int(1000 + 31 + 15 + 5))
        XCTAssertEqual(c.values["b"], .tuple([.float(1e-4), .float(0.5), .float(1), .float(2500), .float(10.5)]))
        XCTAssertEqual(c.values["c"], .int(-4))
        XCTAssertEqual(c.values["d"], .float(0.5))
        XCTAssertEqual(c.values["e"], .tuple([3, -4, 2, -2, .float(3.5), 1024]))
        XCTAssertEqual(c.values["e"]?[4], .float(3.5))
        XCTAssertEqual(c.values["f"], .tuple([.float(3), .float(0.5), .float(0.5), 5]))
        XCTAssertEqual(c.values["g"], .tuple([3, 3, -9, 2, 275_040]))
        XCTAssertEqual(c.values["h"]?.double ?? 0, 1.0 / 3, accuracy: 1e-16)
        // Ints stay ints and `/` makes floats, as the types of a config's values matter.
        XCTAssertEqual(c.value["e"]?[0]?.int, 3)
        XCTAssertNil(c.value["e"]?[4]?.int)
        XCTAssertEqual(c.value["e"]?[4]?.double, 3.5)
    }

    func testStringsEscapesTripleQuotesAndConcatenation() throws {
        let c = try parse(
            #"""
            a = 'tab\there\nnew "q" \'s\' \\ \x41\u00e9\101\d'
            b = "it's"
            c = r'\d+\.py\'' + R"\n"
            d = '''line one
            line 'two' \
            continued'''
            e = ('https://download.openmmlab.com/'
                 "mmdetection/v3.0/" u'x.pth')
            f = 'data/coco/' + 'annotations/instances_val2017.json'
            g = 'data/youtube_vis_2021/'[-5:-1]
            h = 'ab' * 3
            """#)
        XCTAssertEqual(c.values["a"], .string("tab\there\nnew \"q\" 's' \\ A\u{e9}A\\d"))
        XCTAssertEqual(c.values["b"], "it's")
        XCTAssertEqual(c.values["c"], .string(#"\d+\.py\'\n"#))
        XCTAssertEqual(c.values["d"], .string("line one\nline 'two' continued"))
        XCTAssertEqual(c.values["e"], "https://download.openmmlab.com/mmdetection/v3.0/x.pth")
        XCTAssertEqual(c.values["f"], "data/coco/annotations/instances_val2017.json")
        XCTAssertEqual(c.values["g"], "2021")
        XCTAssertEqual(c.values["h"], "ababab")
    }

    func testCollectionsAndDictCalls() throws {
        let c = try parse(
            """
            # comment
            empty = (dict(), {}, [], ())
            one = (1,)
            paren = (1)
            bare = 1, 'two',
            nested = dict(a=[1, (2, 3), {'k': None}], b=dict(c=True,),)
            weights = [1.0] * 3 + [0.1]
            strides = (8, 16) + (32,)
            img_norm_cfg = dict(mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395], to_rgb=False)
            normalize = dict(type='Normalize', **img_norm_cfg)
            positional = dict({'data/': 's3://bucket/'}, extra=1)
            literal = {'b': 1, 'a': 2, 'b': 3}
            """)
        XCTAssertEqual(c.values["empty"], .tuple([.dict([:]), .dict([:]), .list([]), .tuple([])]))
        XCTAssertEqual(c.values["one"], .tuple([1]))
        XCTAssertEqual(c.values["paren"], 1)
        XCTAssertEqual(c.values["bare"], .tuple([1, "two"]))
        XCTAssertEqual(c.values["nested"], ["a": [1, .tuple([2, 3]), ["k": nil]], "b": ["c": true]])
        XCTAssertEqual(c.values["weights"], [1.0, 1.0, 1.0, 0.1])
        XCTAssertEqual(c.values["strides"], .tuple([8, 16, 32]))
        XCTAssertNotEqual(c.values["strides"], [8, 16, 32], "a tuple is not a list")
        XCTAssertEqual(c.values["normalize"]?.dict?.keys, ["type", "mean", "std", "to_rgb"])
        XCTAssertEqual(c.values["normalize"]?["mean"], [103.53, 116.28, 123.675])
        XCTAssertEqual(c.values["positional"], ["data/": "s3://bucket/", "extra": 1])
        // A repeated literal key keeps its first place and its last value, as in Python.
        XCTAssertEqual(c.values["literal"]?.dict?.keys, ["b", "a"])
        XCTAssertEqual(c.values["literal"]?["b"], 3)
        XCTAssertEqual(c.values.keys.first, "empty")
    }

    func testNamesSubscriptsAndLineJoining() throws {
        let c = try parse(
            """
            data_root = 'data/coco/'
            backend_args = None
            test_pipeline = [
                dict(type='LoadImageFromFile', backend_args=backend_args),
                dict(type='Resize', scale=(1333, 800), keep_ratio=True),
            ]
            val_dataloader = dict(dataset=dict(pipeline=test_pipeline,
                ann_file=data_root + \\
                    'annotations/instances_val2017.json'))
            test_dataloader = val_dataloader
            scale = test_pipeline[1]['scale']
            last = test_pipeline[-1]['type']
            head = [1, 2, 3, 4][1:3]
            reverse = (1, 2, 3)[::-1]
            milestones = [8, 11]
            __private = 5
            uses_private = __private * 2
            """)
        XCTAssertEqual(c.values["test_dataloader"], c.values["val_dataloader"])
        XCTAssertEqual(
            try c["test_dataloader"]["dataset"]["ann_file"].string(), "data/coco/annotations/instances_val2017.json")
        XCTAssertEqual(c.values["test_dataloader"]?["dataset"]?["pipeline"]?[0]?["backend_args"], PyValue.none)
        XCTAssertEqual(c.values["scale"], .tuple([1333, 800]))
        XCTAssertEqual(c.values["last"], "Resize")
        XCTAssertEqual(c.values["head"], [2, 3])
        XCTAssertEqual(c.values["reverse"], .tuple([3, 2, 1]))
        // mmengine drops names that start with two underscores.
        XCTAssertNil(c.values["__private"])
        XCTAssertEqual(c.values["uses_private"], 10)
    }

    // MARK: _base_ and merging

    func testBaseReferencesAndSubstitution() throws {
        let dir = try directory([
            "_base_/base.py": """
                data_root = 'data/coco/'
                model = dict(type='FCOS', data_preprocessor=dict(mean=[1, 2, 3], bgr_to_rgb=True))
                param_scheduler = [dict(type='LinearLR'), dict(type='MultiStepLR', milestones=[8, 11])]
                backend_args = None
                """,
            "configs/child.py": """
                _base_ = '../_base_/base.py'
                mean = {{_base_.model.data_preprocessor.mean}}
                rgb = {{ _base_.model.data_preprocessor.bgr_to_rgb }}
                args = {{_base_.backend_args}}
                milestones = _base_.param_scheduler[1].milestones
                first = _base_['param_scheduler'][0]['type']
                root = _base_.data_root + 'train2017/'
                """,
        ])
        let c = try PythonConfig.load(contentsOf: dir.appendingPathComponent("configs/child.py"))
        XCTAssertEqual(c.values["mean"], [1, 2, 3])
        XCTAssertEqual(c.values["rgb"], true)
        XCTAssertEqual(c.values["args"], PyValue.none)
        XCTAssertEqual(c.values["milestones"], [8, 11])
        XCTAssertEqual(c.values["first"], "LinearLR")
        XCTAssertEqual(c.values["root"], "data/coco/train2017/")
        XCTAssertEqual(c.values["model"]?["type"], "FCOS", "the base's own values are in the result")
        XCTAssertEqual(c.values.keys, ["data_root", "model", "param_scheduler", "backend_args", "mean", "rgb", "args", "milestones", "first", "root"])
    }

    /// The example checked against mmengine 0.10.7's `Config.fromfile` (which keeps the two
    /// `_delete_` flags that had nothing to replace; this reader drops them).
    func testMergeRulesMatchMMEngine() throws {
        let dir = try directory([
            "base.py": """
                a = dict(x=1, y=dict(p=1, q=2), z=[1, 2], t=(1, 2))
                b = 3
                lst = [dict(t=1)]
                """,
            "child.py": """
                _base_ = './base.py'
                a = dict(y=dict(_delete_=True, r=dict(_delete_=True, s=1)), z=[3], t=(9,),
                         w=dict(_delete_=True, k=1), n=[dict(_delete_=True, m=1)])
                b = 4.5
                new = dict(_delete_=True, u=1)
                """,
        ])
        let c = try PythonConfig.load(contentsOf: dir.appendingPathComponent("child.py"))
        XCTAssertEqual(
            c.values["a"], ["x": 1, "y": ["r": ["s": 1]], "z": [3], "t": .tuple([9]), "w": ["k": 1], "n": [["m": 1]]])
        XCTAssertEqual(c.values["a"]?.dict?.keys, ["x", "y", "z", "t", "w", "n"], "base keys first, then new ones")
        XCTAssertEqual(c.values["b"], 4.5)
        XCTAssertEqual(c.values["new"], ["u": 1])
        XCTAssertEqual(c.values["lst"], [["t": 1]])
        XCTAssertEqual(c.values.keys, ["a", "b", "lst", "new"])
    }

    func testNestedMergeKeepsBaseKeysAndDeleteReplaces() throws {
        let dir = try directory([
            "models/fcos.py": """
                model = dict(type='FCOS',
                    backbone=dict(type='ResNet', depth=50, norm_eval=True),
                    neck=dict(type='FPN', in_channels=[256, 512], start_level=1),
                    test_cfg=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5)))
                """,
            "schedule.py": "optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9))\n",
            "hrnet/child.py": """
                _base_ = ['../models/fcos.py', '../schedule.py']
                model = dict(backbone=dict(_delete_=True, type='HRNet'),
                             neck=dict(type='HRFPN', in_channels=[32, 64]),
                             test_cfg=dict(nms=dict(iou_threshold=0.6)))
                optim_wrapper = dict(optimizer=dict(lr=0.01))
                """,
        ])
        let c = try PythonConfig.load(contentsOf: dir.appendingPathComponent("hrnet/child.py"))
        XCTAssertEqual(c.values["model"]?["backbone"], ["type": "HRNet"])
        XCTAssertEqual(c.values["model"]?["neck"], ["type": "HRFPN", "in_channels": [32, 64], "start_level": 1])
        XCTAssertEqual(c.values["model"]?["test_cfg"], ["score_thr": 0.05, "nms": ["type": "nms", "iou_threshold": 0.6]])
        XCTAssertEqual(c.values["optim_wrapper"], ["optimizer": ["type": "SGD", "lr": 0.01, "momentum": 0.9]])
    }

    func testInheritanceErrors() throws {
        let dir = try directory([
            "a.py": "x = 1\nshared = 1\n",
            "b.py": "y = 2\nshared = 2\n",
            "conflict.py": "_base_ = ['a.py', 'b.py']\n",
            "cycle1.py": "_base_ = 'cycle2.py'\n",
            "cycle2.py": "x = 1\n_base_ = './cycle1.py'\n",
            "self.py": "_base_ = 'self.py'\n",
            "missing.py": "# header\n_base_ = ['a.py', 'nowhere/base.py']\n",
            "list_base.py": "l = [1]\n",
            "into_list.py": "_base_ = 'list_base.py'\nl = dict(a=1)\n",
            "scoped.py": "_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'\n",
            "yaml.py": "_base_ = 'base.yaml'\n",
            "bad_delete.py": "_base_ = 'a.py'\nz = dict(_delete_=1)\n",
            "twice.py": "_base_ = 'a.py'\n_base_ = 'b.py'\n",
            "dir.py": "_base_ = 'folder.py'\n",
            "folder.py/x": "",
        ])
        func load(_ name: String) throws { _ = try PythonConfig.load(contentsOf: dir.appendingPathComponent(name)) }
        assertFails(.inheritance, line: 1, "conflict.py:1:1: bases a.py and b.py both define 'shared'") { try load("conflict.py") }
        assertFails(.inheritance, line: 2, "cycle2.py:2:1: _base_ cycle: cycle1.py -> cycle2.py -> cycle1.py") { try load("cycle1.py") }
        assertFails(.inheritance, line: 1, "_base_ cycle: self.py -> self.py") { try load("self.py") }
        assertFails(.io, line: 2, "missing.py:2:1: cannot read nowhere/base.py: no such file") { try load("missing.py") }
        assertFails(.io, line: nil, "cannot read absent.py") { try load("absent.py") }
        assertFails(.inheritance, line: nil, "into_list.py: l: a dict here cannot merge into the base's list") { try load("into_list.py") }
        assertFails(.inheritance, line: 1, "package-scoped bases") { try load("scoped.py") }
        assertFails(.inheritance, line: 1, "only Python (.py) bases") { try load("yaml.py") }
        assertFails(.inheritance, line: nil, "z._delete_: _delete_ must be True or False") { try load("bad_delete.py") }
        assertFails(.notAllowed, line: 2, "_base_ is assigned more than once") { try load("twice.py") }
        assertFails(.io, line: 1, "not a regular file") { try load("dir.py") }
        assertFails(.inheritance, line: 1, "read it with PythonConfig.load") { _ = try self.parse("_base_ = 'a.py'\n") }
        assertFails(.inheritance, line: nil, "t.py: x[1].a._delete_: _delete_ must be True or False, found str") {
            _ = try self.parse("x = [1, dict(a=dict(_delete_='yes'))]\n")
        }
        assertFails(.undefined, line: 2, "name 'x' is not defined in this file (a base's value is read as _base_.x)") {
            _ = try PythonConfig.load(contentsOf: try self.directory(["a.py": "x = 1\n", "c.py": "_base_ = 'a.py'\ny = x\n"])
                .appendingPathComponent("c.py"))
        }
        assertFails(.undefined, line: 2, "'_base_' has no key 'nope'") {
            _ = try PythonConfig.load(contentsOf: try self.directory(["a.py": "x = 1\n", "c.py": "_base_ = 'a.py'\ny = _base_.nope\n"])
                .appendingPathComponent("c.py"))
        }
    }

    // MARK: mmdet's HRNet configs

    func testFCOSHRNetW32Chain() throws {
        let url = Self.configs.appendingPathComponent("hrnet/fcos_hrnetv2p-w32-gn-head_4xb4-1x_coco.py")
        let c = try PythonConfig.load(contentsOf: url)
        let model = c["model"]
        XCTAssertEqual(try model["type"].string(), "FCOS")
        XCTAssertEqual(try model["backbone"]["type"].string(), "HRNet")
        XCTAssertEqual(try model["backbone"]["extra"]["stage4"]["num_channels"].ints(), [32, 64, 128, 256])
        XCTAssertEqual(c.value["model"]?["backbone"]?["extra"]?["stage1"]?["num_channels"], .tuple([64]))
        XCTAssertEqual(try model["backbone"]["extra"]["stage3"]["num_modules"].int(), 4)
        XCTAssertEqual(try model["backbone"]["init_cfg"]["checkpoint"].string(), "open-mmlab://msra/hrnetv2_w32")
        XCTAssertFalse(model["backbone"]["depth"].exists, "_delete_ dropped the ResNet settings")
        XCTAssertEqual(c.value["model"]?["backbone"]?.dict?.keys, ["type", "extra", "init_cfg"])
        XCTAssertEqual(try model["neck"]["type"].string(), "HRFPN")
        XCTAssertEqual(try model["neck"]["stride"].int(), 2)
        XCTAssertEqual(try model["neck"]["in_channels"].ints(), [32, 64, 128, 256])
        XCTAssertEqual(try model["neck"]["num_outs"].int(), 5)
        XCTAssertFalse(model["neck"]["start_level"].exists)
        let head = model["bbox_head"]
        XCTAssertEqual(try head["type"].string(), "FCOSHead")
        XCTAssertEqual(try head["num_classes"].int(), 80)
        XCTAssertEqual(try head["strides"].ints(), [8, 16, 32, 64, 128])
        XCTAssertEqual(try head["loss_cls"]["alpha"].double(), 0.25)
        // The config leaves FCOSHead's GroupNorm to the class default (num_groups=32).
        XCTAssertFalse(head["norm_cfg"].exists)
        XCTAssertEqual(try head["norm_cfg"]["num_groups"].int(default: 32), 32)
        let pre = model["data_preprocessor"]
        XCTAssertEqual(try pre["type"].string(), "DetDataPreprocessor")
        XCTAssertEqual(try pre["mean"].doubles(), [103.53, 116.28, 123.675])
        XCTAssertEqual(try pre["std"].doubles(), [57.375, 57.12, 58.395])
        XCTAssertEqual(try pre["bgr_to_rgb"].bool(), false)
        XCTAssertEqual(try pre["pad_size_divisor"].int(), 32)
        let test = model["test_cfg"]
        XCTAssertEqual(try test["score_thr"].double(), 0.05)
        XCTAssertEqual(try test["nms_pre"].int(), 1000)
        XCTAssertEqual(try test["nms"]["iou_threshold"].double(), 0.5)
        XCTAssertEqual(try test["max_per_img"].int(), 100)
        let resize = c["test_pipeline"][1]
        XCTAssertEqual(try resize["type"].string(), "Resize")
        XCTAssertEqual(c.value["test_pipeline"]?[1]?["scale"], .tuple([1333, 800]))
        XCTAssertEqual(try resize["keep_ratio"].bool(), true)
        XCTAssertEqual(c.values["test_dataloader"]?["dataset"]?["pipeline"], c.values["test_pipeline"])
        XCTAssertEqual(try c["train_dataloader"]["batch_size"].int(), 4)
        XCTAssertEqual(try c["train_dataloader"]["persistent_workers"].bool(), true)
        XCTAssertEqual(try c["val_evaluator"]["ann_file"].string(), "data/coco/annotations/instances_val2017.json")
        XCTAssertEqual(try c["param_scheduler"][0]["type"].string(), "ConstantLR")
        XCTAssertEqual(try c["param_scheduler"][0]["factor"].double(), 1.0 / 3)
        XCTAssertEqual(try c["optim_wrapper"]["optimizer"]["lr"].double(), 0.01)
        XCTAssertEqual(try c["optim_wrapper"]["optimizer"]["momentum"].double(), 0.9)
        XCTAssertEqual(try c["optim_wrapper"]["clip_grad"]["max_norm"].int(), 35)
        // mmengine's order: the bases' keys in _base_ order, then the files' new keys.
        XCTAssertEqual(
            c.values.keys,
            ["dataset_type", "data_root", "backend_args", "train_pipeline", "test_pipeline",
             "train_dataloader", "val_dataloader", "test_dataloader", "val_evaluator", "test_evaluator",
             "train_cfg", "val_cfg", "test_cfg", "param_scheduler", "optim_wrapper", "auto_scale_lr",
             "default_scope", "default_hooks", "env_cfg", "vis_backends", "visualizer", "log_processor",
             "log_level", "load_from", "resume", "model"])
    }

    func testFasterRCNNHRNetW32Chain() throws {
        let url = Self.configs.appendingPathComponent("hrnet/faster-rcnn_hrnetv2p-w32-1x_coco.py")
        let c = try PythonConfig.load(contentsOf: url)
        let model = c["model"]
        XCTAssertEqual(try model["type"].string(), "FasterRCNN")
        XCTAssertEqual(try model["backbone"]["type"].string(), "HRNet")
        XCTAssertEqual(try model["backbone"]["extra"]["stage2"]["num_blocks"].ints(), [4, 4])
        XCTAssertEqual(try model["neck"]["type"].string(), "HRFPN")
        XCTAssertEqual(c.value["model"]?["neck"]?.dict?.keys, ["type", "in_channels", "out_channels"])
        XCTAssertFalse(model["neck"]["stride"].exists, "HRFPN's stride defaults to 1 in mmdet's code")
        XCTAssertEqual(try model["neck"]["stride"].int(default: 1), 1)
        XCTAssertEqual(try model["data_preprocessor"]["mean"].doubles(), [123.675, 116.28, 103.53])
        XCTAssertEqual(try model["data_preprocessor"]["bgr_to_rgb"].bool(), true)
        let anchors = model["rpn_head"]["anchor_generator"]
        XCTAssertEqual(try anchors["scales"].ints(), [8])
        XCTAssertEqual(try anchors["ratios"].doubles(), [0.5, 1, 2])
        XCTAssertEqual(try anchors["strides"].ints(), [4, 8, 16, 32, 64])
        XCTAssertEqual(try model["rpn_head"]["bbox_coder"]["target_stds"].doubles(), [1, 1, 1, 1])
        let extractor = model["roi_head"]["bbox_roi_extractor"]
        XCTAssertEqual(try extractor["roi_layer"]["output_size"].int(), 7)
        XCTAssertEqual(try extractor["roi_layer"]["sampling_ratio"].int(), 0)
        XCTAssertEqual(try extractor["featmap_strides"].ints(), [4, 8, 16, 32])
        // SingleRoIExtractor's finest_scale is not in the config (mmdet's default is 56).
        XCTAssertFalse(extractor["finest_scale"].exists)
        XCTAssertEqual(try model["roi_head"]["bbox_head"]["bbox_coder"]["target_stds"].doubles(), [0.1, 0.1, 0.2, 0.2])
        XCTAssertEqual(try model["roi_head"]["bbox_head"]["num_classes"].int(), 80)
        XCTAssertEqual(try model["roi_head"]["bbox_head"]["reg_class_agnostic"].bool(), false)
        let rpn = model["test_cfg"]["rpn"]
        XCTAssertEqual(try rpn["nms_pre"].int(), 1000)
        XCTAssertEqual(try rpn["max_per_img"].int(), 1000)
        XCTAssertEqual(try rpn["nms"]["iou_threshold"].double(), 0.7)
        XCTAssertEqual(try rpn["min_bbox_size"].int(), 0)
        let rcnn = model["test_cfg"]["rcnn"]
        XCTAssertEqual(try rcnn["score_thr"].double(), 0.05)
        XCTAssertEqual(try rcnn["nms"]["type"].string(), "nms")
        XCTAssertEqual(try rcnn["nms"]["iou_threshold"].double(), 0.5)
        XCTAssertEqual(try rcnn["max_per_img"].int(), 100)
        XCTAssertEqual(try model["train_cfg"]["rpn"]["assigner"]["ignore_iof_thr"].int(), -1)
        XCTAssertEqual(try c["param_scheduler"][0]["start_factor"].double(), 0.001)
        XCTAssertEqual(try c["optim_wrapper"]["optimizer"]["lr"].double(), 0.02)
        XCTAssertEqual(c.values.keys.first, "model", "the first base defines model")
    }

    /// The merged text mmengine writes into checkpoints (`Config.pretty_text`, saved from
    /// mmengine 0.10.7) reads back to exactly the values of the file chain.
    func testCheckpointPrettyTextEqualsTheFileChain() throws {
        for name in ["fcos_hrnetv2p-w32-gn-head_4xb4-1x_coco.py", "faster-rcnn_hrnetv2p-w32-1x_coco.py"] {
            let chain = try PythonConfig.load(contentsOf: Self.configs.appendingPathComponent("hrnet/" + name))
            let text = try String(contentsOf: Self.configs.appendingPathComponent("pretty_text/" + name), encoding: .utf8)
            let pretty = try PythonConfig.parse(text: text, name: "meta.cfg")
            XCTAssertEqual(pretty.values, chain.values, name)
            XCTAssertEqual(Set(pretty.values.keys), Set(chain.values.keys), name)
            XCTAssertGreaterThan(pretty.values.count, 20, name)
            // pretty_text sorts keys; the tuple written over lines stays a tuple.
            XCTAssertEqual(pretty.values.keys.first, "auto_scale_lr", name)
            XCTAssertEqual(pretty.value["model"]?["backbone"]?["extra"]?["stage4"]?["num_channels"], .tuple([32, 64, 128, 256]))
        }
    }

    /// mmdet 2.x checkpoints keep mmcv 1.x's `pretty_text` (unsorted, `**img_norm_cfg` already
    /// expanded, a two-stage test pipeline).
    func testMMDet2PrettyText() throws {
        let url = Self.configs.appendingPathComponent("pretty_text/mmdet2_fcos_hrnetv2p_w32_gn-head_4x4_1x_coco.py")
        let c = try PythonConfig.parse(text: try String(contentsOf: url, encoding: .utf8), name: "meta.config")
        XCTAssertEqual(try c["model"]["type"].string(), "FCOS")
        XCTAssertEqual(try c["model"]["backbone"]["extra"]["stage4"]["num_channels"].ints(), [32, 64, 128, 256])
        XCTAssertEqual(try c["model"]["neck"]["stride"].int(), 2)
        XCTAssertEqual(try c["model"]["test_cfg"]["score_thr"].double(), 0.05)
        XCTAssertEqual(try c["img_norm_cfg"]["mean"].doubles(), [103.53, 116.28, 123.675])
        XCTAssertEqual(try c["img_norm_cfg"]["to_rgb"].bool(), false)
        let flipAug = c["data"]["test"]["pipeline"][1]
        XCTAssertEqual(try flipAug["type"].string(), "MultiScaleFlipAug")
        XCTAssertEqual(flipAug.value?["img_scale"], .tuple([1333, 800]))
        XCTAssertEqual(try flipAug["transforms"][2]["std"].doubles(), [57.375, 57.12, 58.395])
        XCTAssertEqual(try c["lr_config"]["warmup_ratio"].double(), 1.0 / 3)
        XCTAssertEqual(c.values["workflow"], [.tuple(["train", 1])])
        XCTAssertEqual(c.values.keys.first, "dataset_type")
    }

    // MARK: Typed access

    func testTypedAccessNamesThePath() throws {
        let c = try parse(
            """
            model = dict(bbox_head=dict(num_classes='80', strides=[8, 16.0, 'x']), neck=None, test_cfg=dict(nms_pre=None))
            """, name: "tiny.py")
        assertFails(.access, line: nil, "tiny.py: model.bbox_head.num_classes: expected an integer, found a string") {
            _ = try c["model"]["bbox_head"]["num_classes"].int()
        }
        assertFails(.access, line: nil, "tiny.py: model.backbone: required key is missing") {
            _ = try c["model"]["backbone"]["type"].string()
        }
        assertFails(.access, line: nil, "tiny.py: model.neck: expected a dict, found None") {
            _ = try c["model"]["neck"]["stride"].int(default: 1)
        }
        assertFails(.access, line: nil, "tiny.py: model.bbox_head.strides[2]: expected a number, found a string") {
            _ = try c["model"]["bbox_head"]["strides"].doubles()
        }
        assertFails(.access, line: nil, "model.bbox_head.strides[5]: index out of range (3 elements)") {
            _ = try c["model"]["bbox_head"]["strides"][5].int()
        }
        XCTAssertEqual(try c["model"]["bbox_head"]["strides"][1].double(), 16)
        XCTAssertEqual(try c["model"]["bbox_head"]["strides"][-3].int(), 8)
        XCTAssertEqual(try c["model"]["backbone"]["depth"].int(default: 50), 50)
        XCTAssertEqual(try c["model"]["test_cfg"]["nms_pre"].int(default: 1000), 1000, "None means the default")
        XCTAssertTrue(c["model"]["test_cfg"]["nms_pre"].exists)
        XCTAssertTrue(c["model"]["test_cfg"]["nms_pre"].isAbsent)
        XCTAssertEqual(c["model"]["bbox_head"]["num_classes"].path, "model.bbox_head.num_classes")
    }

    // MARK: Refusals

    func testCodeIsRefusedWithFileAndLine() {
        let cases: [(String, PythonConfigError.Kind, Int, String)] = [
            ("a = 1\nimport os\n", .notAllowed, 2, "bad.py:2:1: import statements are not allowed"),
            ("from os import system\n", .notAllowed, 1, "import statements are not allowed"),
            ("a = 1\n\nb = open('x')\n", .notAllowed, 3, "bad.py:3:5: a call to 'open' is not allowed in a config (only dict(...))"),
            ("a = __import__('os')\n", .notAllowed, 1, "a call to '__import__' is not allowed"),
            ("a = eval('1')\n", .notAllowed, 1, "a call to 'eval' is not allowed"),
            ("a = os.system('rm -rf /')\n", .notAllowed, 1, "a call to 'os.system' is not allowed"),
            ("a = os.path.join('a', 'b')\n", .notAllowed, 1, "a call to 'os.path.join' is not allowed"),
            ("x = dict(a=1)\ny = x.copy()\n", .notAllowed, 2, "a call to 'x.copy' is not allowed"),
            ("x = dict(a=1)\ny = x.a\n", .notAllowed, 2, "attribute access 'x.a' is not allowed in a config (only _base_.name)"),
            ("x = 'a'.join(['b'])\n", .notAllowed, 1, "attribute access is not allowed"),
            ("x = [1][0]()\n", .notAllowed, 1, "a call is not allowed in a config"),
            ("x = dict(a=1)()\n", .notAllowed, 1, "a call to 'dict(...)'"),
            ("f = lambda: 1\n", .notAllowed, 1, "lambda is not allowed"),
            ("f = dict(a=lambda x=1: x)\n", .notAllowed, 1, "lambda is not allowed"),
            ("x = [i for i in range(3)]\n", .notAllowed, 1, "comprehensions are not allowed"),
            ("x = {k: 1 for k in 'ab'}\n", .notAllowed, 1, "comprehensions are not allowed"),
            ("if True:\n    x = 1\n", .notAllowed, 1, "'if' statements are not allowed"),
            ("for i in []:\n    pass\n", .notAllowed, 1, "'for' statements are not allowed"),
            ("def f():\n    return 1\n", .notAllowed, 1, "'def' statements are not allowed"),
            ("class A:\n    pass\n", .notAllowed, 1, "'class' statements are not allowed"),
            ("with open('x') as f:\n    pass\n", .notAllowed, 1, "'with' statements are not allowed"),
            ("x = f'{1}'\n", .syntax, 1, "bad.py:1:5: f-strings are not allowed"),
            ("x = b'1'\n", .syntax, 1, "bytes literals are not supported"),
            ("x = (y := 1)\n", .notAllowed, 1, "assignment expressions (:=) are not allowed"),
            ("x = y\n", .undefined, 1, "name 'y' is not defined"),
            ("x = 1 if True else 2\n", .notAllowed, 1, "conditional expressions"),
            ("x = 1 < 2\n", .notAllowed, 1, "comparisons ('<')"),
            ("x = not True\n", .notAllowed, 1, "boolean operators"),
            ("x = 1 | 2\n", .notAllowed, 1, "the operator '|'"),
            ("x = {1, 2}\n", .notAllowed, 1, "set literals are not supported"),
            ("x = {1: 2}\n", .notAllowed, 1, "dict keys must be strings"),
            ("a = dict(x=1)\nx = {**a}\n", .notAllowed, 2, "'**' unpacking is only supported in dict(...)"),
            ("x = [*range(3)]\n", .notAllowed, 1, "unpacking with '*'"),
            ("x = dict(a=1, a=2)\n", .syntax, 1, "keyword argument repeated: 'a'"),
            ("a = dict(k=1)\nx = dict(k=2, **a)\n", .evaluation, 2, "multiple values for keyword argument 'k'"),
            ("x = dict([('a', 1)])\n", .evaluation, 1, "accepts a dict as its positional argument"),
            ("a = b = 1\n", .notAllowed, 1, "chained assignment"),
            ("a = 1\na += 1\n", .notAllowed, 2, "augmented assignment ('+=')"),
            ("a: int = 1\n", .notAllowed, 1, "annotated assignments"),
            ("_base_.model.type = 'X'\n", .notAllowed, 1, "assigning to '_base_.model.type' is not supported (only NAME = value)"),
            ("a = [1]\na[0] = 2\n", .notAllowed, 2, "assigning to 'a[0]'"),
            ("a, b = 1, 2\n", .notAllowed, 1, "assigning to 'a,b'"),
            ("a = 1; b = 2\n", .notAllowed, 1, "';' is not supported"),
            ("a = 1\nprint(a)\n", .notAllowed, 2, "a call to 'print'"),
            ("a = 1\na\n", .notAllowed, 2, "an expression on its own"),
            ("dict = 1\n", .notAllowed, 1, "cannot rebind 'dict'"),
            ("True = 1\n", .syntax, 1, "cannot assign to the keyword 'True'"),
            ("filename = 'x'\n", .notAllowed, 1, "reserved key"),
            ("x = {{ fileDirname }}\n", .notAllowed, 1, "only {{_base_.name}} substitutions"),
            ("x = {{_base_.a}}\n", .undefined, 1, "has no _base_ files"),
            ("x = _base_.a\n", .undefined, 1, "has no _base_ files"),
            ("x = '1' + 1\n", .evaluation, 1, "unsupported operand types for +: 'str' and 'int'"),
            ("x = [1] + (2,)\n", .evaluation, 1, "unsupported operand types for +: 'list' and 'tuple'"),
            ("x = 1 / 0\n", .evaluation, 1, "division by zero"),
            ("x = 5 % 0\n", .evaluation, 1, "modulo by zero"),
            ("x = 2 ** 64\n", .evaluation, 1, "integer overflow"),
            ("x = 9223372036854775807 + 1\n", .evaluation, 1, "integer overflow"),
            ("x = [1, 2][5]\n", .undefined, 1, "index 5 out of range"),
            ("x = dict(a=1)['b']\n", .undefined, 1, "key 'b' not found"),
            ("x = 1\n  y = 2\n", .syntax, 2, "unexpected indent"),
            ("x = (1, 2]\n", .syntax, 1, "closing ']' does not match opening '('"),
            ("x = 1)\n", .syntax, 1, "unmatched ')'"),
            ("x = dict(\n  a=1,\n", .syntax, 1, "'(' was never closed"),
            ("x = 1 +\n", .syntax, 1, "expected a value"),
            ("x = 'abc\n", .syntax, 1, "bad.py:1:5: unterminated string"),
            ("x = 1\ny = '''abc\n\n", .syntax, 2, "unterminated triple-quoted string"),
            ("x = r'abc\\", .syntax, 1, "unterminated string"),
            ("x = '\\N{DASH}'\n", .syntax, 1, "\\N{...} escapes are not supported"),
            ("x = '\\x4'\n", .syntax, 1, "truncated \\x escape"),
            ("x = 1__0\n", .syntax, 1, "invalid underscore in number literal"),
            ("x = 1_\n", .syntax, 1, "invalid underscore"),
            ("x = 0x\n", .syntax, 1, "invalid number literal"),
            ("x = 12abc\n", .syntax, 1, "invalid number literal: '12abc'"),
            ("x = 1.2.3\n", .syntax, 1, "invalid number literal"),
            ("x = 1e\n", .syntax, 1, "empty exponent"),
            ("x = 012\n", .syntax, 1, "leading zeros"),
            ("x = 3j\n", .syntax, 1, "complex numbers"),
            ("x = 99999999999999999999\n", .syntax, 1, "integer literal too large"),
            ("x = 1 $ 2\n", .syntax, 1, "unexpected character '$'"),
            ("x = 1 \\ 2\n", .syntax, 1, "after line continuation character"),
            ("x = café\n", .syntax, 1, "non-ASCII characters"),
        ]
        for (text, kind, line, fragment) in cases {
            assertParseFails(text, kind, line: line, fragment)
        }
    }

    // MARK: Hostile input

    func testHostileInputFailsFastWithAClearError() throws {
        let limit = PythonConfig.Limits().maxNesting
        assertParseFails("x = " + String(repeating: "[", count: 100_000) + "\n", .limit, line: 1, "brackets nested more than \(limit) deep")
        assertParseFails("x = " + String(repeating: "(", count: 100_000), .limit, line: 1, "nested more than")
        assertParseFails("x = " + String(repeating: "{", count: 100_000), .limit, line: 1, "nested more than")
        // Signs are applied in a loop: a long run is fine, and even.
        XCTAssertEqual(try parse("x = " + String(repeating: "- ", count: 100_000) + "1\n").values["x"], 1)
        assertParseFails("x = 2" + String(repeating: " ** 2", count: 100_000) + "\n", .limit, line: 1, "expression nested more than")
        // Nesting built from names rather than brackets.
        let chain = (1...150).map { "a\($0) = [a\($0 - 1)]" }.joined(separator: "\n")
        assertParseFails("a0 = []\n" + chain + "\n", .limit, line: limit + 1, "values nested more than \(limit) deep")
        // Sharing that doubles the logical size each line (2^80 values if walked).
        let doubling = (1...80).map { "b\($0) = [b\($0 - 1), b\($0 - 1)]" }.joined(separator: "\n")
        assertParseFails("b0 = [0]\n" + doubling + "\n", .limit, line: 19, "the config's values exceed 1000000")
        assertParseFails("x = 'x' * 10 ** 9\n", .limit, line: 1, "a string longer than")
        assertParseFails("x = [0] * 10 ** 12\n", .limit, line: 1, "a value with more than")
        assertParseFails("x = [0] * 9223372036854775807\n", .limit, line: 1, "a value with more than")
        let s = "s = '" + String(repeating: "y", count: 900_000) + "'\n"
        assertParseFails(s + "t = s + s\n", .limit, line: 2, "a string longer than")
        let copies = s + (0..<200).map { "t\($0) = [s + '', s + '']" }.joined(separator: "\n")
        assertParseFails(copies, .limit, line: 37, "builds more than")
        assertParseFails(String(repeating: "x = 1\n", count: 200_000), .limit, line: nil, "larger than 1048576 bytes")

        let huge = try directory(["huge.py": "# " + String(repeating: "x", count: 2 << 20) + "\n"])
        assertFails(.limit, line: nil, "huge.py is larger than 1048576 bytes") {
            _ = try PythonConfig.load(contentsOf: huge.appendingPathComponent("huge.py"))
        }
        let binary = try directory(["placeholder.py": ""]).appendingPathComponent("binary.py")
        try Data([0x78, 0x20, 0x3D, 0x20, 0xFF, 0xFE, 0x0A]).write(to: binary)
        assertFails(.io, line: nil, "binary.py is not UTF-8 text") { _ = try PythonConfig.load(contentsOf: binary) }

        // A chain longer than the depth limit, and a wide tree larger than the file limit.
        var deep: [String: String] = ["c0.py": "x0 = 0\n"]
        for i in 1...40 { deep["c\(i).py"] = "_base_ = 'c\(i - 1).py'\nx\(i) = \(i)\n" }
        let deepDir = try directory(deep)
        assertFails(.limit, line: 1, "_base_ chain deeper than 16 files") {
            _ = try PythonConfig.load(contentsOf: deepDir.appendingPathComponent("c40.py"))
        }
        var wide: [String: String] = [:]
        for level in 0..<7 {
            let bases = level == 6 ? "" : "_base_ = ['w\(level + 1)a.py', 'w\(level + 1)b.py']\n"
            wide["w\(level)a.py"] = bases
            wide["w\(level)b.py"] = bases
        }
        let wideDir = try directory(wide)
        assertFails(.limit, line: 1, "more than 64 files") {
            _ = try PythonConfig.load(contentsOf: wideDir.appendingPathComponent("w0a.py"))
        }
    }

    func testValuesPrintAsPython() throws {
        let c = try parse("x = dict(a=[1, 2.0, None, True], b=('s\\n',), c={'k': 1e-05})\n")
        XCTAssertEqual(c.values["x"]?.description, "{'a': [1, 2.0, None, True], 'b': ('s\\n',), 'c': {'k': 1e-05}}")
    }
}
