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

    @Flag(help: "Print {\"stats\": [...]} instead of the table.")
    var json = false

    func run() throws {
        let type: COCOEval.IoUType = iouType == .keypoints ? .keypoints : .bbox
        let start = DispatchTime.now()
        let truth = try COCOGroundTruth.load(URL(fileURLWithPath: gt))
        let dt = try COCOResults.load(URL(fileURLWithPath: results), for: truth, iouType: type)
        let eval = COCOEval(groundTruth: truth, results: dt, iouType: type)
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
