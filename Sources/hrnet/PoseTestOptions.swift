import HRNet
import Pose

extension PoseEstimator.Options {
    /// The config's TEST settings with the command line's choices over them (flags given win).
    init(config: HRNetConfig, flipTest: Bool?, dark: Bool, softNMS: Bool = false) {
        self.init(config: config)
        if let flipTest { self.flipTest = flipTest }
        if dark { decoding = .dark(kernel: 11) }
        if softNMS { self.softNMS = true }
    }
}
