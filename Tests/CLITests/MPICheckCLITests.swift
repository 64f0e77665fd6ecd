import XCTest
import TestSupport

/// `mpirun -np N hrnet mpi-check`: every collective with known values over real processes, and
/// a process that dies while the others wait in a collective ends the job instead of hanging it.
final class MPICheckCLITests: XCTestCase {
    override func setUpWithError() throws {
        guard HRNetCLI.mpirunPath != nil else { throw XCTSkip("Open MPI's mpirun is not installed (make deps installs it)") }
    }

    func testEveryCollectiveOnTwoAndThreeProcesses() throws {
        for n in [2, 3] {
            let r = try HRNetCLI.mpirun(processes: n, ["mpi-check"], timeout: 60)
            XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
            for rank in 0..<n { XCTAssertTrue(r.stdout.contains("mpi-check OK: process \(rank) of \(n)"), r.stdout) }
        }
        let bench = try HRNetCLI.mpirun(processes: 2, ["mpi-check", "--bench", "100000"], timeout: 60)
        XCTAssertEqual(bench.status, 0, bench.stderr)
        XCTAssertTrue(bench.stdout.contains("all-reduce of 100000 floats over 2 processes"), bench.stdout)
    }

    func testADeadProcessEndsTheJob() throws {
        let start = Date()
        let r = try HRNetCLI.mpirun(processes: 2, ["mpi-check", "--die-rank", "1"], timeout: 30)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), 30, "the job ended by itself")
    }

    func testWithoutMPIRunItSaysHow() throws {
        let r = try HRNetCLI.run(["mpi-check"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("mpirun -np 2 hrnet mpi-check"), r.stderr)
    }
}
