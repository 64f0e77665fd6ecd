import ArgumentParser
import Datasets
import Foundation

struct COCOEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coco-eval",
        abstract: "Evaluate COCO results against ground truth; the numbers pycocotools' COCOeval prints."
    )

    @Option(help: "Ground truth, e.g. person_keypoints_val2017.json.")
    var gt: String

    @Option(help: "Results: a JSON list of {image_id, category_id, keypoints | bbox, score}.")
    var results: String

    enum IoU: String, ExpressibleByArgument, CaseIterable { case keypoints, bbox }
    @Option(name: .customLong("iou-type"), help: "keypoints (OKS) or bbox (IoU).")
    var iouType: IoU = .keypoints

    @Option(help: ArgumentHelp("OKS sigmas, one per keypoint (default: COCO's for 17 keypoints, else their mean 0.0626 for each).",
                               valueName: "s1,s2,..."))
    var sigmas: String?

    @Flag(help: "Print {\"stats\": [...]} instead of the table.")
    var json = false

    func run() throws {
        let type: COCOEval.IoUType = iouType == .keypoints ? .keypoints : .bbox
        let start = DispatchTime.now()
        let truth = try COCOGroundTruth.load(URL(fileURLWithPath: gt))
        let dt = try COCOResults.load(URL(fileURLWithPath: results), for: truth, iouType: type)
        let coco = COCOEval(groundTruth: truth, results: [], iouType: type).sigmas
        var perKeypoint = coco
        if let sigmas {
            let values = sigmas.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ValidationError("--sigmas '\(sigmas)' must be positive numbers separated by commas")
            }
            perKeypoint = values.compactMap { $0 }
        } else if type == .keypoints, let count = truth.keypointNames.values.first?.count, count != coco.count {
            perKeypoint = Array(repeating: coco.reduce(0, +) / Double(coco.count), count: count)
            warn("\(count) keypoints, not COCO's 17: every OKS sigma is COCO's mean, \(perKeypoint[0]) (give --sigmas)")
        }
        let eval = COCOEval(groundTruth: truth, results: dt, iouType: type, sigmas: perKeypoint)
        let stats = try eval.run()
        if json {
            print("{\"stats\": [" + stats.map { String(format: "%.17g", $0) }.joined(separator: ", ") + "]}")
        } else {
            print(eval.format(stats))
            FileHandle.standardError.write(Data(String(format: "%d images, %d results, %.2f s\n", truth.imageIDs.count, dt.count,
                                                       milliseconds(since: start) / 1000).utf8))
        }
    }
}
