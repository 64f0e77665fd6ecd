import Foundation
import Imaging

/// A procedural human-like figure with COCO's 17 joints: a stick skeleton with plausible
/// proportions (fractions of the standing height, after the usual artists' canon of about
/// 7.5 heads) posed by random joint angles, dressed as filled capsules (limbs, torso), discs
/// (head, hands, feet, eyes) and colours (skin, shirt, trousers, hair, shoes).
struct SyntheticFigure {
    /// COCO order: nose, eyes (l, r), ears (l, r), shoulders, elbows, wrists, hips, knees, ankles.
    var joints: [Point]
    /// Joints the figure itself hides from an annotator: the face of a figure seen from behind.
    var hidden: Set<Int>
    /// Drawn in order, back to front.
    var shapes: [SyntheticShape]

    static let skinTones: [Color] = [Color(255, 224, 196), Color(241, 194, 160), Color(224, 172, 130),
                                     Color(198, 134, 96), Color(141, 85, 60), Color(95, 60, 42)]
    static let hairColors: [Color] = [Color(20, 16, 14), Color(60, 40, 25), Color(120, 80, 40), Color(200, 170, 110),
                                      Color(150, 150, 150), Color(90, 30, 20)]

    /// A random figure `height` pixels tall (standing), its pelvis at `pelvis`.
    static func random(_ random: inout AugmentationRandom, height: Double, pelvis: Point, owner: Int) -> SyntheticFigure {
        func jitter(_ v: Double, _ spread: Double = 0.1) -> Double { v * random.uniform(1 - spread, 1 + spread) }
        func pick<T>(_ items: [T]) -> T { items[random.int(below: items.count)] }
        func radians(_ degrees: Double) -> Double { degrees * .pi / 180 }
        let H = height

        // Body frame: `up` along the spine (mostly upright; sometimes lying or bending).
        var tilt = random.normal() * radians(7)
        if random.uniform() < 0.08 { tilt = radians(random.uniform(60, 120)) * (random.uniform() < 0.5 ? -1 : 1) }
        let up = Point(x: sin(tilt), y: -cos(tilt))
        func rotate(_ v: Point, _ a: Double) -> Point {
            Point(v.x * cos(a) - v.y * sin(a), v.x * sin(a) + v.y * cos(a))
        }
        func right(of u: Point) -> Point { Point(-u.y, u.x) }
        /// Direction at `angle` (degrees) from "down" of frame `u`, turning toward its right.
        func direction(_ u: Point, _ angle: Double) -> Point {
            let a = radians(angle), r = right(of: u)
            return Point(-u.x * cos(a) + r.x * sin(a), -u.y * cos(a) + r.y * sin(a))
        }
        func add(_ p: Point, _ v: Point, _ k: Double) -> Point {
            Point(p.x + v.x * k, p.y + v.y * k)
        }

        // Facing: front (the person's left on the viewer's right), back, or turned (narrow).
        let facing = random.uniform()
        let back = facing > 0.7
        let turn = facing < 0.15 || (facing > 0.6 && facing <= 0.7) ? random.uniform(0.3, 0.7) : random.uniform(0.85, 1)
        let leftSign: Double = back ? -1 : 1
        let faceShift = (turn < 0.8 ? (random.uniform() < 0.5 ? -1.0 : 1.0) : 0) * (1 - turn)

        // Proportions (fractions of the height), each varied +-10%.
        let torso = jitter(0.30 * H), neck = jitter(0.115 * H), headR = jitter(0.062 * H, 0.08)
        let shoulderHalf = jitter(0.115 * H) * turn, hipHalf = jitter(0.08 * H) * turn
        let upperArm = jitter(0.165 * H), forearm = jitter(0.145 * H), thigh = jitter(0.235 * H), shin = jitter(0.225 * H)

        let lean = random.normal() * 10
        let spine = rotate(up, radians(lean))
        let hipL = add(pelvis, right(of: up), hipHalf * leftSign), hipR = add(pelvis, right(of: up), -hipHalf * leftSign)
        let shoulderCenter = add(pelvis, spine, torso)
        let shoulderL = add(shoulderCenter, right(of: spine), shoulderHalf * leftSign)
        let shoulderR = add(shoulderCenter, right(of: spine), -shoulderHalf * leftSign)
        let headDir = rotate(spine, radians(random.normal() * 8))
        let head = add(add(shoulderCenter, headDir, neck), right(of: headDir), faceShift * headR * 0.6)

        // Arms: the angle from hanging down, outward on the arm's side; elbows bend either way.
        func arm(_ shoulder: Point, side: Double) -> (elbow: Point, wrist: Point) {
            let u = random.uniform()
            let raise = u < 0.45 ? random.uniform(5, 35) : u < 0.75 ? random.uniform(35, 110) : u < 0.9 ? random.uniform(110, 175) : random.uniform(-35, 5)
            let bend = random.uniform() < 0.6 ? random.uniform(0, 40) : random.uniform(40, 145)
            let a = side * raise
            let elbow = add(shoulder, direction(spine, a), upperArm * random.uniform(0.8, 1))
            let wrist = add(elbow, direction(spine, a + side * (random.uniform() < 0.7 ? bend : -bend)), forearm * random.uniform(0.75, 1))
            return (elbow, wrist)
        }
        // Legs: mostly standing or walking; sometimes a kick or a crouch (foreshortened thigh).
        func leg(_ hip: Point, side: Double) -> (knee: Point, ankle: Point) {
            let u = random.uniform()
            let spread = u < 0.8 ? random.uniform(-8, 25) : u < 0.9 ? random.uniform(25, 80) : random.uniform(-5, 40)
            let crouch = u >= 0.9 ? random.uniform(0.45, 0.75) : random.uniform(0.9, 1)
            let a = side * spread
            let knee = add(hip, direction(up, a), thigh * crouch)
            let ankle = add(knee, direction(up, a + side * random.uniform(-35, 15)), shin * random.uniform(0.85, 1))
            return (knee, ankle)
        }
        let (elbowL, wristL) = arm(shoulderL, side: leftSign), (elbowR, wristR) = arm(shoulderR, side: -leftSign)
        let (kneeL, ankleL) = leg(hipL, side: leftSign), (kneeR, ankleR) = leg(hipR, side: -leftSign)

        // Face keypoints on the head disc; a turned head shows its face to one side.
        let faceRight = right(of: headDir)
        let eyeSpread = 0.36 * headR * turn
        let eyeL = add(add(head, faceRight, eyeSpread * leftSign + faceShift * headR * 0.5), headDir, 0.12 * headR)
        let eyeR = add(add(head, faceRight, -eyeSpread * leftSign + faceShift * headR * 0.5), headDir, 0.12 * headR)
        let nose = add(add(head, faceRight, faceShift * headR * 0.7), headDir, -0.15 * headR)
        let earL = add(add(head, faceRight, 0.95 * headR * turn * leftSign), headDir, 0.02 * headR)
        let earR = add(add(head, faceRight, -0.95 * headR * turn * leftSign), headDir, 0.02 * headR)
        let joints = [nose, eyeL, eyeR, earL, earR, shoulderL, shoulderR, elbowL, elbowR, wristL, wristR,
                      hipL, hipR, kneeL, kneeR, ankleL, ankleR]

        // Clothes and colours.
        let skin = pick(skinTones).shifted(Int(random.uniform(-12, 12)))
        let shirt = Color(UInt8(random.int(below: 256)), UInt8(random.int(below: 256)), UInt8(random.int(below: 256)))
        let trousers = random.uniform() < 0.4 ? Color(UInt8(20 + random.int(below: 60)), UInt8(30 + random.int(below: 60)), UInt8(60 + random.int(below: 110)))
            : Color(UInt8(random.int(below: 256)), UInt8(random.int(below: 256)), UInt8(random.int(below: 256)))
        let shoes = Color(UInt8(random.int(below: 80)), UInt8(random.int(below: 80)), UInt8(random.int(below: 80)))
        let hair = pick(hairColors)
        let longSleeves = random.uniform() < 0.5, shorts = random.uniform() < 0.25

        let limb = 0.036 * H, thighR = 0.05 * H, shinR = 0.04 * H
        var shapes: [SyntheticShape] = []
        func capsule(_ a: Point, _ b: Point, _ r: Double, _ c: Color, outline: Bool = true) {
            shapes.append(SyntheticShape(kind: .capsule(a: a, b: b, radius: max(0.8, r)), color: c, owner: owner, outline: outline))
        }
        func disc(_ c: Point, _ r: Double, _ color: Color, outline: Bool = false) {
            shapes.append(SyntheticShape(kind: .disc(center: c, radius: max(0.7, r)), color: color, owner: owner, outline: outline))
        }
        // Legs (trousers or shorts), feet.
        for (hip, knee, ankle) in [(hipL, kneeL, ankleL), (hipR, kneeR, ankleR)] {
            capsule(hip, knee, thighR, trousers)
            capsule(knee, ankle, shinR, shorts ? skin : trousers)
            disc(add(ankle, direction(up, 0), shinR * 0.6), shinR * 1.2, shoes)
        }
        capsule(hipL, hipR, thighR * 1.1, trousers)
        // Torso: a capsule as wide as the shoulders, from just below them to the hips.
        let torsoR = max(shoulderHalf * 0.85, hipHalf * 1.15, 0.05 * H)
        capsule(add(shoulderCenter, spine, -torsoR * 0.55), add(pelvis, spine, torsoR * 0.3), torsoR, shirt)
        capsule(shoulderL, shoulderR, limb * 1.1, shirt)
        capsule(shoulderCenter, add(shoulderCenter, headDir, neck * 0.6), 0.03 * H, skin, outline: false)
        // Head: hair behind or over the face.
        if back {
            disc(head, headR, skin)
            disc(add(head, headDir, 0.05 * headR), headR * 1.02, hair)
        } else {
            disc(add(head, headDir, 0.18 * headR), headR * 1.02, hair)
            disc(add(head, headDir, -0.05 * headR), headR * 0.93, skin)
            let eyeR0 = max(0.7, 0.12 * headR)
            disc(eyeL, eyeR0, Color(30, 30, 40))
            disc(eyeR, eyeR0, Color(30, 30, 40))
            disc(nose, max(0.7, 0.1 * headR), skin.darkened(0.8))
        }
        // Arms over the torso, hands.
        for (shoulder, elbow, wrist) in [(shoulderL, elbowL, wristL), (shoulderR, elbowR, wristR)] {
            capsule(shoulder, elbow, limb, shirt)
            capsule(elbow, wrist, limb * 0.85, longSleeves ? shirt : skin)
            disc(wrist, limb * 0.95, skin)
        }
        // Seen from behind, the face is not annotated (as COCO annotators leave it).
        return SyntheticFigure(joints: joints, hidden: back ? [0, 1, 2] : [], shapes: shapes)
    }
}
