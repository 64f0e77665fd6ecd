import HRNet
import Pose

extension PoseEstimator.Options {
    /// The config's TEST settings with the command line's choices over them (flags given win).
    init(config: HRNetConfig, flipTest: Bool?, dark: Bool, softNMS: Bool = false) {
        self.init(config: config)
        if let flipTest { self.flipTest = flipTest }
        // A config with TEST.BLUR_KERNEL decodes with DARK at its kernel already.
        if dark, config.poseTest.blurKernel == nil { decoding = .dark(kernel: 11) }
        if softNMS { self.softNMS = true }
    }
}
