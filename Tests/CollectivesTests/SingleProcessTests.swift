import XCTest
@testable import Collectives

final class SingleProcessTests: XCTestCase {
    func testReductionsAreIdentity() throws {
        let world = SingleProcess()
        XCTAssertEqual([world.rank, world.size], [0, 1])
        XCTAssertTrue(world.isRoot)
        var floats: [Float] = [1, -2, 3.5], doubles: [Double] = [0.25, 4]
        try floats.withUnsafeMutableBufferPointer { try world.allReduceSum($0) }
        try doubles.withUnsafeMutableBufferPointer { try world.allReduceSum($0) }
        try floats.withUnsafeMutableBufferPointer { try world.startAllReduceSum($0).wait() }
        XCTAssertEqual(floats, [1, -2, 3.5])
        XCTAssertEqual(doubles, [0.25, 4])
        XCTAssertEqual(try world.allReduceMax(-7), -7)
        XCTAssertEqual(try world.allReduceMin(2.5), 2.5)
        try world.barrier()
    }

    func testByteCollectives() throws {
        let world = SingleProcess()
        var bytes: [UInt8] = [1, 2, 3]
        try world.broadcast(&bytes, root: 0)
        XCTAssertEqual(bytes, [1, 2, 3])
        XCTAssertEqual(try world.gather([4, 5], root: 0), [[4, 5]])
        XCTAssertEqual(try world.gather([], root: 0), [[]])
        XCTAssertEqual(try world.allGather([6]), [[6]])
        XCTAssertThrowsError(try world.gather([1], root: 1))
        XCTAssertThrowsError(try world.broadcast(&bytes, root: -1))
    }

    func testPendingReductionWaitsOnce() throws {
        var calls = 0
        let pending = PendingReduction { calls += 1 }
        try pending.wait()
        try pending.wait()
        XCTAssertEqual(calls, 1)
    }

    func testErrorDescriptionNamesOperationAndRank() {
        // MPI is not initialised here, so this also checks MPI_Error_string is not called (it would abort).
        let error = CollectiveError(operation: "MPI_Bcast", rank: 3, code: 5)
        XCTAssertEqual(error.description, "MPI_Bcast failed on rank 3: MPI error code 5 (MPI error 5)")
    }
}
