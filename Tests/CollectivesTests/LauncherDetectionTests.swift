import XCTest
@testable import Collectives

final class LauncherDetectionTests: XCTestCase {
    func testWorldWithoutLauncherIsSingleProcess() throws {
        try XCTSkipIf(ProcessGroup.launchedByMPI, "test process itself runs under an MPI launcher")
        XCTAssertTrue(try ProcessGroup.world() is SingleProcess)
        XCTAssertEqual(ProcessGroup.localProcessCount, 1)
        XCTAssertEqual(ProcessGroup.localRank, 0)
    }

    func testLauncherVariables() {
        XCTAssertFalse(ProcessGroup.launchedByMPI(environment: ["PATH": "/bin"]))
        for name in ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"] {
            XCTAssertTrue(ProcessGroup.launchedByMPI(environment: [name: "0"]), name)
        }
    }

    func testLocalCountsIgnoreGarbage() {
        XCTAssertEqual(ProcessGroup.integer(["A", "B"], in: ["B": " 4 "]), 4)
        XCTAssertEqual(ProcessGroup.integer(["A", "B"], in: ["A": "x", "B": "2"]), 2)
        XCTAssertNil(ProcessGroup.integer(["A"], in: ["A": "4x"]))
    }
}
