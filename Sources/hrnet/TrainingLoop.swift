import ArgumentParser
import Collectives
import DNN
import Foundation

extension TrainCommand {
    /// The part of every task's run that is the same: the trainer's workers and the settings its
    /// checkpoints keep, --resume (weights, optimizer, position, best score, logs), a line saying
    /// what trains (`describe`, after the resume: it may name the starting epoch), then the epoch
    /// loop in the terminal with this command's checkpoint cadence.
    func runTraining<T: EpochTrainer & SessionTrainer>(_ trainer: T, _ runner: EpochRunner, dataRoot: URL?, batch: Int,
                                                      describe: () -> String, evaluate: (Int) throws -> [Double]) throws {
        trainer.workers = workers
        trainer.session.settings = runSettings(dataRoot: dataRoot, batch: batch)
        var runner = withCheckpoints(runner)
        if let resume {
            try runner.resume(trainer, from: URL(fileURLWithPath: resume))
            let position = trainer.session.position
            ProgressBar.say("resumed \(resume) at epoch \(position.epoch), step \(position.step)")
        }
        ProgressBar.say(describe())
        try runner.runInTerminal(trainer, evaluate: evaluate)
    }
}

extension EpochRunner {
    /// The library's epoch loop with `hrnet train`'s terminal: a progress bar per epoch, a line
    /// per epoch, Ctrl-C to stop after the current step (exit 130, the checkpoint says where).
    func runInTerminal<T: EpochTrainer>(_ trainer: T, evaluate: (Int) throws -> [Double]) throws {
        let stop = StopSignal()
        var bar: ProgressBar?
        var observer = Observer()
        observer.epochStarted = { epoch, from, steps in
            bar = ProgressBar("epoch \(epoch + 1)/\(endEpoch)" + (from > 0 ? " from step \(from + 1)" : ""), total: steps - from, unit: "steps")
        }
        observer.step = { bar?.advance(note: String(format: "loss %.6f, lr %.2g", $0.loss, $0.learningRate)) }
        observer.epochTrained = { bar?.finish() }
        observer.epochFinished = { epoch, loss, rate, values, best in
            ProgressBar.say(String(format: "epoch %d: loss %.6f, %.1f images/s", epoch + 1, loss, rate)
                         + (values.first.map { String(format: ", %@ %.4f (best %.4f)", displayName, $0, best) } ?? ""))
        }
        observer.shouldStop = { stop.requested }
        switch try run(trainer, observer: observer, evaluate: evaluate) {
        case .finished(let best):
            if !ProgressBar.silent { print("trained to epoch \(endEpoch): \(folder.appendingPathComponent("final.safetensors").path)"
                  + (best >= 0 ? String(format: ", best %@ %.4f in best.safetensors", displayName, best) : "")) }
        case .stopped(let epoch, let inside):
            ProgressBar.say("stopped \(inside ? "during" : "after") epoch \(epoch + 1); saved \(checkpoint.path) (resume with --resume)")
            // Every process stopped at the same step: once the checkpoint is written, end MPI as a job that finished.
            if trainer.communicator.size > 1 { try trainer.communicator.barrier(); ProcessGroup.finish() }
            throw ExitCode(130)
        }
    }

    /// How the first metric reads in messages.
    var displayName: String { ["ap": "AP", "pckh": "PCKh", "top1": "top-1", "top5": "top-5", "miou": "mIoU", "ap50": "AP50"][metrics[0]] ?? metrics[0] }
}

/// Ctrl-C asks the run to stop at the next step (a second Ctrl-C ends the process at once).
/// SIGUSR1 asks the same without the second chance: `mpirun` forwards it to every process
/// (`kill -USR1 <mpirun pid>`), while Ctrl-C on mpirun becomes SIGTERM to the processes and
/// SIGKILL a few seconds later; under mpirun SIGTERM therefore stops after the step too, and
/// the first process saves a checkpoint if the kill leaves it time (atomically: else the
/// previous checkpoint stays).
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    private var sources: [DispatchSourceSignal] = []

    init() {
        var signals = [SIGINT, SIGUSR1]
        if ProcessGroup.launchedByMPI { signals.append(SIGTERM) }
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in self.requested(by: number) }
            source.resume()
            sources.append(source)
        }
    }

    private func requested(by number: Int32) {
        lock.lock()
        let again = flag
        flag = true
        lock.unlock()
        if again && number == SIGINT { exit(130) }
        if !again && !ProgressBar.silent {
            FileHandle.standardError.write(Data("\nhrnet: stopping after this step\(number == SIGINT ? " (Ctrl-C again to quit now)" : "")\n".utf8))
        }
    }

    var requested: Bool { lock.lock(); defer { lock.unlock() }; return flag }
}
