import DNN

/// The classification fixture script's keyed random weights (Tests/Fixtures/classify/
/// make_classify_fixtures.py, keyed_tensor), so a full-size model is tested without committing
/// its weights: tensor `key` is the SplitMix64 stream seeded with FNV-1a-64 of the key's UTF-8;
/// u = (z >> 40) / 2^24. Conv and linear weights (2u - 1) sqrt(3 / fan_in); 1-D `.weight` (BN)
/// 0.5 + 0.5u; running_var 0.5 + u; biases and running_mean 0.2 (u - 0.5).
public func keyedTensor(_ key: String, _ shape: [Int]) -> Tensor {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    var rng = SplitMix64(seed: hash)
    var t = Tensor(zeros: shape)
    let fanIn = shape.dropFirst().reduce(1, *)
    let bound = (3 / Float(fanIn)).squareRoot()
    for i in 0..<t.count {
        let u = rng.nextUnitFloat()
        if shape.count >= 2 { t.scalars[i] = (2 * u - 1) * bound }
        else if key.hasSuffix("running_var") { t.scalars[i] = 0.5 + u }
        else if key.hasSuffix(".weight") { t.scalars[i] = 0.5 + 0.5 * u }
        else { t.scalars[i] = 0.2 * (u - 0.5) }
    }
    return t
}

/// A committed key list (`key d0,d1,...` per line, as Tests/Fixtures/keys and classify/keys).
public func keyList(_ text: String) -> [(key: String, shape: [Int])] {
    text.split(separator: "\n").map { line in
        let parts = line.split(separator: " ")
        return (String(parts[0]), parts.count > 1 ? parts[1].split(separator: ",").compactMap { Int($0) } : [])
    }
}
