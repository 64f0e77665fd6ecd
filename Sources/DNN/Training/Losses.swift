/// A loss value and its gradient with respect to the prediction.
public struct LossValue: Sendable {
    public var loss: Double
    public var gradient: Tensor
    public init(loss: Double, gradient: Tensor) { self.loss = loss; self.gradient = gradient }
}
