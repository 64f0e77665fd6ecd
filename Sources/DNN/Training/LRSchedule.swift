import Foundation

/// A learning-rate schedule: the rate at step (or epoch) t from the base rate, in closed form
/// so a resumed run needs only t. The official HRNet recipes use MultiStep (pose: x0.1 at
/// epochs 170 and 200) and poly (segmentation: (1 - t/T)^0.9 per iteration).
public struct LRSchedule: Sendable, Equatable, Codable {
    public enum Kind: Sendable, Equatable, Codable {
        case constant
        /// `torch.optim.lr_scheduler.MultiStepLR`: base x gamma^(milestones passed).
        case multiStep(milestones: [Int], gamma: Float)
        /// `CosineAnnealingLR`: minimum + (base - minimum)(1 + cos(pi t / total)) / 2.
        case cosine(total: Int, minimum: Float)
        /// The official segmentation `adjust_learning_rate`: base (1 - t / total)^power.
        case poly(total: Int, power: Float)
    }
    public var kind: Kind
    /// Linear warm-up (`LinearLR`): the rate is multiplied by a factor going from
    /// `warmupStartFactor` at t = 0 to 1 at t = `warmupSteps`.
    public var warmupSteps: Int
    public var warmupStartFactor: Float

    public init(_ kind: Kind, warmupSteps: Int = 0, warmupStartFactor: Float = 1.0 / 3) {
        self.kind = kind
        self.warmupSteps = warmupSteps
        self.warmupStartFactor = warmupStartFactor
    }

    public func learningRate(base: Float, at t: Int) -> Float {
        let b = Double(base)
        var rate: Double
        switch kind {
        case .constant:
            rate = b
        case .multiStep(let milestones, let gamma):
            rate = b * pow(Double(gamma), Double(milestones.filter { $0 <= t }.count))
        case .cosine(let total, let minimum):
            let progress = Double(min(t, total)) / Double(max(total, 1))
            rate = Double(minimum) + (b - Double(minimum)) * (1 + cos(Double.pi * progress)) / 2
        case .poly(let total, let power):
            rate = b * pow(max(0, 1 - Double(t) / Double(max(total, 1))), Double(power))
        }
        if warmupSteps > 0, t < warmupSteps {
            let f = Double(warmupStartFactor)
            rate *= f + (1 - f) * Double(t) / Double(warmupSteps)
        }
        return Float(rate)
    }
}
