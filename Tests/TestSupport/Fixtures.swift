import Foundation
import DNN

/// Where the committed test fixtures live (Tests/Fixtures), found from this file's path so
/// tests run from any working directory.
public enum Fixtures {
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}

/// Deterministic pseudo-random tensors for tests.
public func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var rng = SplitMix64(seed: seed)
    var t = Tensor(zeros: shape)
    for i in 0..<t.count { t.scalars[i] = (rng.nextUnitFloat() * 2 - 1) * scale }
    return t
}
