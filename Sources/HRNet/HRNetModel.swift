import DNN

/// An HRNet built from a config: the graph, with parameters named by the official keys.
public struct HRNetModel {
    public let config: HRNetConfig
    public let graph: Graph

    public init(config: HRNetConfig) {
        self.config = config
        self.graph = Network.build(config.architecture)
    }

    /// Learnable parameters (BN running statistics excluded), as the paper counts them.
    public var parameterCount: Int {
        graph.parameters.filter { !$0.key.hasSuffix("running_mean") && !$0.key.hasSuffix("running_var") }
            .map { $0.shape.reduce(1, *) }.reduce(0, +)
    }

    /// The network input for the config's IMAGE_SIZE and a batch size.
    public func inputShape(batch: Int = 1) -> Shape4 {
        Shape4(batch, 3, config.imageSize.height, config.imageSize.width)
    }
}
