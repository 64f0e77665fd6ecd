// ReLU on vectors as integer bit operations. `pointwiseMax` and `replacing(with:where:)` compile
// to a scalar loop over the lanes (with stack spills): in the resize kernel that was most of its
// time. These forms compile to a few vector instructions.

extension SIMD16 where Scalar == Float {
    /// max(x, 0) per lane; -0 gives +0.
    @inline(__always) var positivePart: Self {
        let b = unsafeBitCast(self, to: SIMD16<Int32>.self)
        return unsafeBitCast(b & ~(b &>> 31), to: Self.self)
    }

    /// `self` where `gate` > 0, else 0 (ReLU's backward pass). -0 and negative gates give 0.
    @inline(__always) func gated(by gate: Self) -> Self {
        let g = unsafeBitCast(gate, to: SIMD16<Int32>.self)
        // The sign bit of (g - 1) | g is set exactly when g <= 0 as a float.
        let keep = ~(((g &- 1) | g) &>> 31)
        return unsafeBitCast(unsafeBitCast(self, to: SIMD16<Int32>.self) & keep, to: Self.self)
    }

    /// |x| per lane (the sign bit cleared).
    @inline(__always) var magnitudes: Self {
        unsafeBitCast(unsafeBitCast(self, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: Self.self)
    }
}

extension SIMD8 where Scalar == Float {
    /// max(x, 0) per lane; -0 gives +0.
    @inline(__always) var positivePart: Self {
        let b = unsafeBitCast(self, to: SIMD8<Int32>.self)
        return unsafeBitCast(b & ~(b &>> 31), to: Self.self)
    }
}
