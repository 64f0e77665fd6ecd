/// A dense fp32 tensor in row-major (C) order; image tensors are NCHW.
///
/// Value semantics (copy on write through `Array`), so a tensor handed to a plan or a
/// checkpoint writer can never be changed behind the caller's back.
public struct Tensor: Equatable, Sendable {
    public private(set) var shape: [Int]
    public var scalars: [Float]

    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == scalars.count,
                     "shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public init(shape: [Int], repeating value: Float) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }

    /// The same scalars seen with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// The tensor with its first two axes exchanged, (A, B, ...) -> (B, A, ...): a transposed
    /// convolution's (I, O, kh, kw) weight as a convolution's (O, I, kh, kw).
    public func swappingLeadingAxes() -> Tensor {
        precondition(rank >= 2, "swapping the leading axes of a rank \(rank) tensor")
        let (a, b) = (shape[0], shape[1]), inner = count / max(a * b, 1)
        var out = [Float](repeating: 0, count: count)
        for i in 0..<a { for j in 0..<b {
            let from = (i * b + j) * inner, to = (j * a + i) * inner
            for k in 0..<inner { out[to + k] = scalars[from + k] }
        } }
        return Tensor(shape: [b, a] + shape.dropFirst(2), scalars: out)
    }

    /// Element access by a full index (slow; for tests and small tools).
    public subscript(_ index: Int...) -> Float {
        get { scalars[offset(index)] }
        set { scalars[offset(index)] = newValue }
    }

    private func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index rank \(index.count) != tensor rank \(shape.count)")
        var o = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of bounds for shape \(shape)")
            o = o * d + i
        }
        return o
    }

    /// Largest absolute elementwise difference; shapes must match.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "shape \(shape) != \(other.shape)")
        var m: Float = 0
        for i in 0..<scalars.count { m = max(m, abs(scalars[i] - other.scalars[i])) }
        return m
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor(shape: \(shape))" }
}
