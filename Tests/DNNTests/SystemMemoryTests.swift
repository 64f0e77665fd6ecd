import XCTest
import DNN

/// Plans measure their arena against the memory available now (MemAvailable, a cgroup's limit),
/// not the machine's total: an input that does not fit is an error naming the sizes.
final class SystemMemoryTests: XCTestCase {
    func testAvailableIsBoundedByPhysical() {
        let available = SystemMemory.available
        XCTAssertGreaterThan(available, 1 << 20)
        XCTAssertLessThanOrEqual(available, ProcessInfo.processInfo.physicalMemory)
    }

    func testAPlanLargerThanAvailableMemoryIsRefused() throws {
        let g = Graph()
        g.outputs = [g.conv(g.input(channels: 3), key: "c", outChannels: 64, kernel: 3)]
        // 64 channels of 16384 x 16384 floats per image, 64 images: 4.4 TB of activations.
        XCTAssertThrowsError(try Plan(graph: g, parameters: g.randomParameters(), input: Shape4(64, 3, 16384, 16384), threads: 1)) { error in
            XCTAssertTrue("\(error)".contains("GB available now"), "\(error)")
        }
    }
}
