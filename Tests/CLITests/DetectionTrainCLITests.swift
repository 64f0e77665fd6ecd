import XCTest
import DNN
import TestSupport

/// `hrnet train --config X.py`: an mmdetection-style config (the tiny FCOS-HRNetV2p fixture as
/// its base, one class, a train pipeline and schedule) on `hrnet synth` people: it trains,
/// logs box AP, exports weights `hrnet detect` loads with the same config, and two processes
/// under mpirun train as one process with their whole batch.
final class DetectionTrainCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hrnet-det-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let synth = try HRNetCLI.run(["synth", "--out", dir.appendingPathComponent("synth").path, "--images", "10", "--val-fraction", "0.2",
                                      "--size", "96x64", "--seed", "5"])
        XCTAssertEqual(synth.status, 0, synth.stderr)
        let config = """
        _base_ = ['\(Fixtures.url("detection/tiny_fcos_hrnet.py").path)']
        model = dict(bbox_head=dict(num_classes=1, regress_ranges=((-1, 16), (16, 32), (32, 64), (64, 128), (128, 1e8))),
                     test_cfg=dict(score_thr=0.05))
        train_pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='Resize', scale=(96, 64), keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackDetInputs')]
        test_pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(96, 64), keep_ratio=True),
            dict(type='PackDetInputs')]
        train_dataloader = dict(batch_size=4, dataset=dict(type='CocoDataset', ann_file='annotations/instances_train2017.json',
                                                           data_prefix=dict(img='train2017/'), pipeline=train_pipeline))
        test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
        train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=1)
        optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
                             paramwise_cfg=dict(bias_lr_mult=2., bias_decay_mult=0.), clip_grad=dict(max_norm=35, norm_type=2))
        param_scheduler = [dict(type='LinearLR', start_factor=0.333, by_epoch=False, begin=0, end=4),
                           dict(type='MultiStepLR', begin=0, end=2, by_epoch=True, milestones=[1], gamma=0.1)]
        """
        try config.write(to: dir.appendingPathComponent("tiny_person.py"), atomically: true, encoding: .utf8)
    }
    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    func arguments(_ out: String, _ extra: [String] = []) -> [String] {
        ["train", "--config", dir.appendingPathComponent("tiny_person.py").path, "--data", dir.appendingPathComponent("synth").path,
         "--out", dir.appendingPathComponent(out).path, "--seed", "2"] + extra
    }

    func testTrainsLogsAndExportsWeightsDetectLoads() throws {
        let r = try HRNetCLI.run(arguments("run", ["--threads", "2"]), timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("8 images of person_keypoints_train.json, 1 classes, batch 4"), r.stderr)
        let csv = try String(contentsOf: dir.appendingPathComponent("run/log.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.first, "epoch,loss,lr,images_per_s,seconds,ap,ap50,best_ap")
        XCTAssertEqual(csv.count, 3)
        let losses = csv.dropFirst().map { Double($0.split(separator: ",")[1])! }
        XCTAssertTrue(losses.allSatisfy { $0.isFinite && $0 > 0 }, "\(csv)")
        // mmdet key names: `hrnet detect` with the same config loads the weights.
        let image = dir.appendingPathComponent("synth/images/val").path
        let files = try FileManager.default.contentsOfDirectory(atPath: image)
        let detect = try HRNetCLI.run(["detect", "--config", dir.appendingPathComponent("tiny_person.py").path, "--weights",
                                       dir.appendingPathComponent("run/final.safetensors").path, image + "/" + files[0]])
        XCTAssertEqual(detect.status, 0, detect.stderr)
        // A config whose class count does not match the data is refused by name.
        let yaml = try String(contentsOf: dir.appendingPathComponent("tiny_person.py"), encoding: .utf8).replacingOccurrences(of: "num_classes=1", with: "num_classes=3")
        try yaml.write(to: dir.appendingPathComponent("tiny_person.py"), atomically: true, encoding: .utf8)
        let bad = try HRNetCLI.run(arguments("bad"))
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("set num_classes=1"), bad.stderr)
    }

    /// mmdet's reduce_mean normalizers and frozen batch norm: two processes of batch 2 train as one of batch 4.
    func testTwoProcessesTrainAsOne() throws {
        guard HRNetCLI.mpirunPath != nil else { throw XCTSkip("Open MPI's mpirun is not installed (make deps installs it)") }
        let one = try HRNetCLI.run(arguments("one", ["--threads", "2", "--epochs", "1", "--eval-every", "0"]), timeout: 300)
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try HRNetCLI.mpirun(processes: 2, arguments("two", ["--threads", "1", "--batch", "2", "--epochs", "1", "--eval-every", "0"]))
        XCTAssertEqual(two.status, 0, two.stdout + two.stderr)
        let a = try Checkpoint.loadFloat(dir.appendingPathComponent("one/final.safetensors"))
        let b = try Checkpoint.loadFloat(dir.appendingPathComponent("two/final.safetensors"))
        var worst: (String, Float) = ("", 0)
        for (key, t) in a {
            let u = try XCTUnwrap(b[key])
            let scale = max(t.scalars.map(abs).max()!, 1e-3)
            let e = zip(t.scalars, u.scalars).map { abs($0 - $1) }.max()! / scale
            if e > worst.1 { worst = (key, e) }
        }
        XCTAssertLessThan(worst.1, 1e-5, "\(worst)")
    }
}
