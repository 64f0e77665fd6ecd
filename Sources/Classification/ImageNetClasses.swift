import CImageNetClasses

/// ImageNet-1k's 1000 classes in the standard index order (the names torchvision's and timm's
/// classifiers are labelled with, and their WordNet IDs): data embedded in the binary
/// (`Sources/CImageNetClasses/imagenet_classes.tsv`), parsed once.
enum ImageNetClasses {
    static let table: (wordNetIDs: [String], names: [String]) = {
        let bytes = UnsafeBufferPointer(start: hrnet_imagenet_classes(), count: hrnet_imagenet_classes_size())
        var ids: [String] = [], names: [String] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 1)
            precondition(fields.count == 2, "imagenet_classes.tsv: bad line '\(line)'")
            ids.append(String(fields[0]))
            names.append(String(fields[1]))
        }
        precondition(names.count == 1000, "imagenet_classes.tsv holds \(names.count) classes, not 1000")
        return (ids, names)
    }()
}
