import ArgumentParser
import Datasets
import Collectives
import DNN
import Foundation
import HRNet
import Pose
import PoseTraining

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a pose, classification or segmentation HRNet from an official experiment file, or an FCOS-HRNetV2p detector from an mmdetection config.",
        discussion: """
        Reads TRAIN, LOSS, DATASET and MODEL of the experiment YAML (batch, optimizer, LR and its \
        steps, epochs, augmentation, sigma, OHKM); MODEL.NAME chooses the task.

        Pose (pose_hrnet, or SimpleBaseline's pose_resnet): the data set is DATA/annotations/person_keypoints_{TRAIN_SET,TEST_SET}.json \
        with images in DATA/images/SPLIT (or DATA/SPLIT); any number of keypoints (from the category; \
        left/right pairs by name); evaluated by AP on TEST_SET with the ground-truth boxes (decoded as the TEST keys say; DarkPose's TEST.BLUR_KERNEL: DARK). DATASET.UNBIASED_ENCODING: true centres the Gaussian targets on the exact joint (DARK's encoding; default on with TEST.BLUR_KERNEL). \
        DATASET.COLOR_RGB false (the official default) feeds B, G, R. --weights takes a pose checkpoint, or an \
        ImageNet backbone as the official MODEL.PRETRAINED (torchvision's ResNets for pose_resnet, cls_hrnet for pose_hrnet): \
        keys the model lacks are dropped, the head (final_layer, deconv_layers) starts from the official initial values.

        MPII (DATASET.DATASET mpii): the official DATA/annot/{TRAIN_SET,TEST_SET}.json with images in \
        DATA/images; evaluated by PCKh@0.5 (Mean) against DATA/annot/gt_TEST_SET.mat, the official table printed.

        Classification (cls_hrnet): DATA/TRAIN_SET and DATA/TEST_SET are image folders \
        (one subfolder per class, sorted names = class indices, as torchvision's ImageFolder; \
        MODEL.NUM_CLASSES must equal the folder count); RandomResizedCrop + flip, cross-entropy \
        (LOSS.LABEL_SMOOTHING), SGD/Adam with MultiStep (TRAIN.LR_STEP) or TRAIN.LR_SCHEDULER: cosine, \
        TRAIN.WARMUP_EPOCHS; evaluated by top-1 on TEST_SET (resize, center crop). To fine-tune \
        pretrained weights on another class count: --weights W --reset-head. OUT/classes.txt names \
        the classes (for hrnet classify --labels).

        Segmentation (seg_hrnet): DATA is a Cityscapes, PASCAL-Context or folder data set (as \
        eval-seg reads; hrnet synth-seg writes one), splits named by TRAIN_SET and TEST_SET \
        (list/cityscapes/train.lst -> train); DATASET.NUM_CLASSES must equal the data set's classes. \
        The official recipe: random scale 0.5 + randint(0, TRAIN.SCALE_FACTOR) / 10 of TRAIN.BASE_SIZE, \
        pad and random crop to TRAIN.IMAGE_SIZE, flip, logits upsampled to the labels (ALIGN_CORNERS), \
        cross-entropy ignoring 255 (Cityscapes class weights on Cityscapes) or OHEM (LOSS.USE_OHEM), \
        SGD with the poly rate per iteration; evaluated by mIoU on TEST_SET as the official validate \
        (each whole image in one run, no flip; eval-seg runs the TEST settings). HRNet-OCR \
        (seg_hrnet_ocr): both heads' losses weighted by LOSS.BALANCE_WEIGHTS (OHEM on the main one), \
        Dropout2d in the head, TRAIN.NONBACKBONE_KEYWORDS at NONBACKBONE_MULT x the rate; --weights \
        takes an HRNetV2 checkpoint (last_layer becomes aux_head) or an ImageNet backbone. \
        --weights takes an ImageNet backbone (extra keys dropped, the head starts from initial \
        values) or a segmentation model (--reset-head for another class count).

        Detection (an mmdetection 3.x config, .py, with its _base_ files: FCOS-HRNetV2p): the model, \
        optimizer (SGD, bias_lr_mult / bias_decay_mult, clip_grad), param_scheduler (ConstantLR or \
        LinearLR warm-up, MultiStepLR), max_epochs, batch_size, the train pipeline's Resize / \
        RandomChoiceResize and RandomFlip, and norm_eval come from the file; the data from its ann_file \
        and data_prefix under --data (else DATA/annotations/instances_SPLIT.json or person_keypoints_SPLIT.json \
        with images in DATA/images/SPLIT), categories in file order = labels (num_classes must match); \
        box AP on the val split; --weights takes a detector checkpoint or an HRNet ImageNet backbone.

        Every epoch (--eval-every) the best score is kept. OUT holds checkpoint.json (resume with \
        --resume OUT/checkpoint.json), best.safetensors and final.safetensors (official key names), \
        log.jsonl and log.csv. Ctrl-C stops after the current step and saves a checkpoint; --resume goes on with the next step.
        """
    )

    @Option(help: "The official experiment YAML (MODEL.NAME pose_hrnet, pose_resnet, cls_hrnet, seg_hrnet or seg_hrnet_ocr).")
    var config: String

    @Option(help: "The data set root (default: the file's DATASET.ROOT).")
    var data: String?

    @Option(help: "Where checkpoints and logs go (default: output/<config name>).")
    var out: String?

    @Option(help: "Start from these weights (.pth or .safetensors) instead of PyTorch's initial values.")
    var weights: String?

    @Flag(help: "With --weights: keys the checkpoint lacks start from initial values.")
    var allowPartial = false

    @Flag(help: "With --weights, for another class count: drop the checkpoint's classifier (classifier.*, or a segmentation model's last_layer.3.*) and start it from initial values.")
    var resetHead = false

    @Option(help: "Continue the run saved in this checkpoint.json.")
    var resume: String?

    @Option(help: "Train to this epoch (default: TRAIN.END_EPOCH).")
    var epochs: Int?

    @Option(help: "Images per step (default: TRAIN.BATCH_SIZE_PER_GPU).")
    var batch: Int?

    @Option(help: "Learning rate (default: TRAIN.LR).")
    var lr: Double?

    @Option(help: "Evaluate (AP, top-1 for a classifier, mIoU for segmentation) every N epochs (0: never).")
    var evalEvery: Int = 1

    @Option(name: .customLong("seed"), help: "Seed of the shuffle, augmentation and initial weights (default 0; a resumed run keeps its own).")
    var seedOption: UInt64?

    /// The run's seed: --seed, or (resuming) the run's, or 0.
    var seed: UInt64 { seedOption ?? 0 }

    @Option(help: "Threads that decode and augment images.")
    var workers: Int = 2

    @Option(help: "Also save checkpoint.json every N steps inside an epoch (default: every --checkpoint-minutes).")
    var checkpointEvery: Int?

    @Option(help: "Also save checkpoint.json when this many minutes passed since the last one (0: only at epoch ends).")
    var checkpointMinutes: Double = 10

    @Flag(name: .customLong("sync-bn"), inversion: .prefixedNo,
          help: "Under mpirun: batch norm over the global batch of all processes (SyncBN; default: TRAIN.SYNC_BN, on for segmentation as the official code).")
    var syncBN: Bool?

    @OptionGroup var compute: ComputeOptions

    @Flag(help: "Start over in OUT even if it holds a previous run.")
    var force = false

    /// The epoch loop with this command's checkpoint cadence.
    func withCheckpoints(_ loop: EpochRunner) -> EpochRunner {
        var loop = loop
        loop.checkpointEverySteps = checkpointEvery
        loop.checkpointEverySeconds = checkpointMinutes > 0 ? checkpointMinutes * 60 : nil
        return loop
    }

    func validate() throws {
        if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be at least 1 step") }
        if !(checkpointMinutes >= 0) { throw ValidationError("--checkpoint-minutes must be 0 or more") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if let batch, batch < 1 || batch > 4096 { throw ValidationError("--batch must be 1...4096") }
        if let lr, !(lr > 0) { throw ValidationError("--lr must be positive") }
        if evalEvery < 0 { throw ValidationError("--eval-every must be 0 or more") }
        if workers < 1 || workers > 64 { throw ValidationError("--workers must be 1...64") }
        if weights != nil && resume != nil { throw ValidationError("--weights starts a run; --resume continues one: give one") }
        if resetHead && weights == nil { throw ValidationError("--reset-head needs --weights") }
    }

    mutating func run() throws {
        let configURL = URL(fileURLWithPath: config)
        try restoreRunSettings()
        if configURL.pathExtension == "py" {
            // An mmdetection config: a detector.
            let job = try MPIJob()
            if job.world.size > 1 { ProgressBar.say("\(job.world.size) processes x the config's batch") }
            try job.run("train") { try trainDetector(configURL: configURL, parallel: DataParallel(communicator: job.world)) }
            return
        }
        let model = try HRNetConfig.load(configURL)
        var training = try TrainingConfig.load(configURL)
        if let epochs { training.endEpoch = epochs }
        if let batch { training.batchSize = batch }
        if let lr { training.learningRate = lr }
        guard training.endEpoch > training.beginEpoch else {
            throw ValidationError("--epochs \(training.endEpoch) must be above TRAIN.BEGIN_EPOCH \(training.beginEpoch)")
        }
        // Under mpirun every process runs this command on its part of each batch.
        let job = try MPIJob()
        let world = job.world
        // An explicit --sync-bn takes the synchronized path in one process too (the same numbers, another code path).
        let parallel = DataParallel(communicator: world,
                                    synchronizeBatchNorm: syncBN ?? (world.size > 1 && (training.syncBatchNorm || model.task == .segmentation)))
        if world.size > 1 {
            ProgressBar.say("\(world.size) processes x batch \(training.batchSize) (global batch \(world.size * training.batchSize)), "
                            + "\(threads(world)) threads each, batch norm \(parallel.synchronizeBatchNorm ? "synchronized" : "per process")")
        }
        try job.run("train") {
            switch model.task {
            case .pose: try trainPose(model, training, configURL: configURL, parallel: parallel)
            case .classification: try trainClassifier(model, training, configURL: configURL, parallel: parallel)
            case .segmentation: try trainSegmentation(model, training, configURL: configURL, parallel: parallel)
            }
        }
    }

    /// Compute threads of each process: --threads, else the cores shared by the processes on this machine.
    func threads(_ world: any Communicator) -> Int {
        compute.threads ?? max(1, Threads.available / (world.size > 1 ? ProcessGroup.localProcessCount : 1))
    }

    /// A resumed run is the same run: where it writes (the checkpoint's folder), its data, seed
    /// and batch come from the checkpoint unless given; a given seed or batch that differs is an
    /// error (the run would silently become another), a different data path a note (data move).
    mutating func restoreRunSettings() throws {
        guard let resume else { return }
        let url = URL(fileURLWithPath: resume)
        let saved = try TrainingCheckpoint.progress(of: url).metadata
        if out == nil { out = url.deletingLastPathComponent().path }
        if let root = saved["data"] {
            if data == nil { data = root } else if let data, URL(fileURLWithPath: data).standardized.path != root {
                ProgressBar.say("note: the run was trained on \(root); resuming on \(data)")
            }
        }
        if let savedSeed = saved["seed"].flatMap(UInt64.init) {
            if let seedOption, seedOption != savedSeed {
                throw ValidationError("\(url.lastPathComponent) is a run with --seed \(savedSeed); it keeps its seed (omit --seed, or start a new run)")
            }
            seedOption = savedSeed
        }
        if let perProcess = saved["batch"].flatMap(Int.init) {
            if let batch, batch != perProcess {
                throw ValidationError("\(url.lastPathComponent) is a run with --batch \(perProcess); it keeps its batch (omit --batch, or start a new run)")
            }
            batch = perProcess
        }
    }

    /// What a checkpoint records of the run's settings, for `restoreRunSettings`.
    func runSettings(dataRoot: URL?, batch: Int) -> [String: String] {
        var settings = ["seed": "\(seed)", "batch": "\(batch)"]
        if let dataRoot { settings["data"] = dataRoot.standardized.path }
        return settings
    }

    /// The output folder of a run: never mix two runs without being told to, and never two
    /// processes writing one (a lock held while the run lives). Only the first process of an
    /// mpirun job writes (and checks) it.
    func outputFolder(_ configURL: URL, _ parallel: DataParallel) throws -> (folder: URL, checkpoint: URL) {
        let outDir = URL(fileURLWithPath: out ?? "output/\(configURL.deletingPathExtension().lastPathComponent)", isDirectory: true)
        let checkpoint = outDir.appendingPathComponent("checkpoint.json")
        guard parallel.communicator.isRoot else { return (outDir, checkpoint) }
        if resume == nil, !force, let existing = try? FileManager.default.contentsOfDirectory(atPath: outDir.path),
           !existing.filter({ $0 != RunLock.name }).isEmpty {
            if FileManager.default.fileExists(atPath: checkpoint.path) {
                throw ValidationError("\(outDir.path) holds a previous run; --resume \(checkpoint.path) continues it, --force starts over")
            }
            throw ValidationError("\(outDir.path) holds files but no checkpoint.json (a run stopped before its first checkpoint?); "
                                  + "--force starts over there")
        }
        try OutputDirectory.prepare(outDir, files: [], force: true)
        try RunLock.take(outDir)
        return (outDir, checkpoint)
    }

    func trainPose(_ model: HRNetConfig, _ training: TrainingConfig, configURL: URL, parallel: DataParallel) throws {
        if resetHead { throw ValidationError("--reset-head is for classifiers (cls_hrnet) and segmentation (seg_hrnet, seg_hrnet_ocr)") }
        // Data: DATA/annotations/person_keypoints_SPLIT.json + DATA/images/SPLIT.
        let root = URL(fileURLWithPath: data ?? training.root, isDirectory: true)
        func split(_ name: String) throws -> (annotations: URL, images: URL) {
            let located = try COCOSplit(root: root, split: name, kind: .keypoints)
            return (located.annotations, located.images)
        }
        let isMPII = model.dataset.lowercased() == "mpii"
        let augmentation = PoseAugmentation(config: model, training: training)
        let dataset: KeypointDataset
        if isMPII {
            let files = MPIIPoseEvaluation.files(root: root, split: training.trainSet)
            guard FileManager.default.fileExists(atPath: files.annotations.path) else {
                throw ValidationError("\(files.annotations.path): no such file (expected DATA/annot/\(training.trainSet).json for MPII)")
            }
            dataset = try KeypointDataset.mpii(annotations: files.annotations, images: files.images)
        } else {
            let trainSplit = try split(training.trainSet)
            dataset = try KeypointDataset.coco(annotations: trainSplit.annotations, images: trainSplit.images,
                                               aspectRatio: augmentation.aspectRatio)
        }
        // Read before anything is built: a missing validation file (gt_TEST_SET.mat) stops the run now.
        let evaluation: PoseTrainer.Validation? = evalEvery == 0 ? nil
            : isMPII ? .mpii(try MPIIPoseEvaluation.load(root: root, split: training.testSet))
            : .coco(try makeEvaluation(split(training.testSet)))
        let trainData = try PoseTrainingData(dataset: dataset, augmentation: augmentation, seed: seed)
        let (outDir, checkpoint) = try outputFolder(configURL, parallel)

        var parameters = HRNetModel(config: model).initialParameters(seed: seed)
        if let weights {
            let (loaded, report) = try PoseTrainer.startingParameters(from: URL(fileURLWithPath: weights), config: model,
                                                                      allowPartial: allowPartial, seed: seed)
            parameters = loaded
            if !report.missing.isEmpty { print("\(report.missing.count) keys missing from \(weights) start from initial values") }
        }
        let trainer = try PoseTrainer(config: model, training: training, data: trainData, parameters: parameters,
                                      threads: threads(parallel.communicator), seed: seed, parallel: parallel)
        let metric = isMPII ? "pckh" : "ap"
        let runner = EpochRunner(folder: outDir, checkpoint: checkpoint, metrics: [metric], endEpoch: training.endEpoch,
                                 evalEvery: evaluation == nil ? 0 : evalEvery)
        try runTraining(trainer, runner, dataRoot: root, batch: training.batchSize, describe: {
            "training \(model.source): \(dataset.count) people, batch \(training.batchSize), epochs \(trainer.position.epoch)..<\(training.endEpoch), "
                + "\(training.optimizer.rawValue) lr \(training.learningRate), out \(outDir.path)"
        }) { _ in
            guard let evaluation else { return [] }
            let bar = ProgressBar("  eval", total: evaluation.units.count, unit: evaluation.units.name)
            let (score, table) = try trainer.evaluate(evaluation, threads: threads(parallel.communicator)) { done, note in
                bar.advance(done - bar.done, note: note)
            }
            bar.finish()
            if let table { ProgressBar.say(table) }
            return [score]
        }
    }

    func makeEvaluation(_ split: (annotations: URL, images: URL)) throws -> COCOPoseEvaluation {
        let truth = try COCOGroundTruth.load(split.annotations)
        guard !truth.imageIDs.isEmpty else { throw ValidationError("\(split.annotations.path) has no images to evaluate on") }
        return COCOPoseEvaluation(truth: truth, imageDirectory: split.images)
    }
}
