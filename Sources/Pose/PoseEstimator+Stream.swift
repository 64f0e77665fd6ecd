import Imaging

extension PoseEstimator {
    /// One input of a stream: its person boxes, and how to get its image (called only for
    /// inputs that are run, so a caller may skip loading images it will not need).
    public struct StreamItem {
        public var boxes: [PersonBox]
        public var image: () throws -> Image
        public init(boxes: [PersonBox], image: @escaping () throws -> Image) { (self.boxes, self.image) = (boxes, image) }
    }

    /// Runs over `count` inputs in order, several images at a time so their crops share network
    /// runs (groups of about `groupCrops` people, at most 64 images). `item(i)` gives input i, or
    /// nil to skip it; `deliver(i, image, people)` hears each run input's people, in input order;
    /// `progress(done)` after each group (skipped inputs count as done). Memory stays bounded by
    /// one group whatever `count` is: `hrnet pose` over a folder and COCO evaluation both use it.
    public func stream(count: Int, groupCrops: Int, item: (Int) throws -> StreamItem?,
                       deliver: (Int, Image, [Person]) throws -> Void, progress: (Int) -> Void = { _ in }) throws {
        var next = 0, done = 0
        while next < count {
            var group: [(index: Int, image: Image, boxes: [PersonBox])] = []
            var crops = 0
            while next < count && (group.isEmpty || crops < groupCrops) && group.count < 64 {
                let i = next
                next += 1
                guard let input = try item(i) else { done += 1; continue }
                group.append((i, try input.image(), input.boxes))
                crops += input.boxes.count
            }
            if !group.isEmpty {
                let people = try estimate(group.map { ($0.image, $0.boxes) })
                for (entry, found) in zip(group, people) { try deliver(entry.index, entry.image, found) }
                done += group.count
            }
            progress(done)
        }
    }
}
