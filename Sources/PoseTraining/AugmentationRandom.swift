import DNN
import Foundation

/// The random numbers of training augmentation: SplitMix64 underneath, uniform doubles from its
/// top 53 bits and standard normals by the Box-Muller transform.
///
/// The official code draws from numpy's and Python's Mersenne Twisters; that stream is not
/// reproduced. Runs are deterministic per *this* seed instead, and every sample of every epoch
/// gets its own generator (`init(seed:epoch:index:)`), so what a sample looks like never depends
/// on the order samples are loaded in or on how many threads load them.
public struct AugmentationRandom: Sendable {
    private var generator: SplitMix64
    private var spareNormal: Double?

    public init(seed: UInt64) {
        generator = SplitMix64(seed: seed)
    }

    /// The generator of sample `index` in `epoch`: the three numbers are mixed through SplitMix64
    /// steps, so neighbouring samples and epochs get unrelated streams.
    public init(seed: UInt64, epoch: Int, index: Int) {
        var mix = SplitMix64(seed: seed)
        var state = mix.next()
        mix = SplitMix64(seed: state ^ UInt64(bitPattern: Int64(epoch)))
        state = mix.next()
        mix = SplitMix64(seed: state ^ UInt64(bitPattern: Int64(index)))
        self.init(seed: mix.next())
    }

    /// Uniform in [0, 1) (Python's `random.random()`, numpy's `rand()`), 53 random bits.
    public mutating func uniform() -> Double {
        Double(generator.next() >> 11) * 0x1p-53
    }

    /// Uniform in [a, b).
    public mutating func uniform(_ a: Double, _ b: Double) -> Double {
        a + (b - a) * uniform()
    }

    /// An integer in 0..<n (n > 0), without modulo bias.
    public mutating func int(below n: Int) -> Int {
        Int(truncatingIfNeeded: generator.next(upperBound: UInt64(max(1, n))))
    }

    /// A standard normal (numpy's `randn()`): Box-Muller, both values of a pair used in turn.
    public mutating func normal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        // u1 in (0, 1] keeps the logarithm finite.
        let u1 = 1 - uniform(), u2 = uniform()
        let radius = (-2 * log(u1)).squareRoot(), angle = 2 * Double.pi * u2
        spareNormal = radius * sin(angle)
        return radius * cos(angle)
    }
}
