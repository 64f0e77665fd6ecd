import HRNet
import Foundation
let args = CommandLine.arguments
func w(_ c: Int) -> Architecture {
    Architecture(stages: [
        StageSpec(modules: 1, branches: 2, block: .basic, blocks: [4, 4], channels: [c, 2 * c]),
        StageSpec(modules: 4, branches: 3, block: .basic, blocks: [4, 4, 4], channels: [c, 2 * c, 4 * c]),
        StageSpec(modules: 3, branches: 4, block: .basic, blocks: [4, 4, 4, 4], channels: [c, 2 * c, 4 * c, 8 * c]),
    ], head: args.count > 5 ? .segmentation(classes: 19, finalKernel: 1, alignCorners: false) : .pose(joints: 17, finalKernel: 1))
}
let c = Int(args[1])!, h = Int(args[2])!, wd = Int(args[3])!, n = Int(args[4])!
let g = Network.build(w(c))
print("params", g.parameters.map { $0.shape.reduce(1, *) }.reduce(0, +))
let p = g.randomParameters()
let t0 = Date()
let plan = try Plan(graph: g, parameters: p, input: Shape4(n, 3, h, wd), threads: 2)
print("compile ms", Date().timeIntervalSince(t0) * 1000, "arena MB", plan.arenaBytes / 1_000_000, "GFLOP", plan.flops / 1e9)
var ts: [Double] = []
for _ in 0..<15 { let s = Date(); try plan.execute(); ts.append(Date().timeIntervalSince(s) * 1000) }
ts.sort()
print("median ms", ts[ts.count / 2], "min", ts[0], "GFLOP/s", plan.flops / 1e6 / ts[ts.count / 2])
