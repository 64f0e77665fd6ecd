import Foundation

/// A small built-in 5x7 bitmap font (drawn for this project) for scores and labels: digits,
/// capital letters (lower case is drawn as capitals), space and common punctuation. Each glyph
/// is 7 rows of 5 cells, `#` for ink; characters without a glyph draw as an empty box.
enum BitmapFont {
    static let glyphWidth = 5, glyphHeight = 7, advance = 6, lineHeight = 9

    static let glyphs: [Character: [UInt8]] = {
        let source: [Character: String] = [
            " ": ".....|.....|.....|.....|.....|.....|.....",
            "0": ".###.|#...#|#..##|#.#.#|##..#|#...#|.###.",
            "1": "..#..|.##..|..#..|..#..|..#..|..#..|.###.",
            "2": ".###.|#...#|....#|...#.|..#..|.#...|#####",
            "3": "####.|....#|....#|.###.|....#|....#|####.",
            "4": "...#.|..##.|.#.#.|#..#.|#####|...#.|...#.",
            "5": "#####|#....|####.|....#|....#|#...#|.###.",
            "6": "..##.|.#...|#....|####.|#...#|#...#|.###.",
            "7": "#####|....#|...#.|..#..|.#...|.#...|.#...",
            "8": ".###.|#...#|#...#|.###.|#...#|#...#|.###.",
            "9": ".###.|#...#|#...#|.####|....#|...#.|.##..",
            "A": ".###.|#...#|#...#|#####|#...#|#...#|#...#",
            "B": "####.|#...#|#...#|####.|#...#|#...#|####.",
            "C": ".###.|#...#|#....|#....|#....|#...#|.###.",
            "D": "###..|#..#.|#...#|#...#|#...#|#..#.|###..",
            "E": "#####|#....|#....|####.|#....|#....|#####",
            "F": "#####|#....|#....|####.|#....|#....|#....",
            "G": ".###.|#...#|#....|#.###|#...#|#...#|.####",
            "H": "#...#|#...#|#...#|#####|#...#|#...#|#...#",
            "I": ".###.|..#..|..#..|..#..|..#..|..#..|.###.",
            "J": "..###|...#.|...#.|...#.|...#.|#..#.|.##..",
            "K": "#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#",
            "L": "#....|#....|#....|#....|#....|#....|#####",
            "M": "#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#",
            "N": "#...#|#...#|##..#|#.#.#|#..##|#...#|#...#",
            "O": ".###.|#...#|#...#|#...#|#...#|#...#|.###.",
            "P": "####.|#...#|#...#|####.|#....|#....|#....",
            "Q": ".###.|#...#|#...#|#...#|#.#.#|#..#.|.##.#",
            "R": "####.|#...#|#...#|####.|#.#..|#..#.|#...#",
            "S": ".####|#....|#....|.###.|....#|....#|####.",
            "T": "#####|..#..|..#..|..#..|..#..|..#..|..#..",
            "U": "#...#|#...#|#...#|#...#|#...#|#...#|.###.",
            "V": "#...#|#...#|#...#|#...#|#...#|.#.#.|..#..",
            "W": "#...#|#...#|#...#|#.#.#|#.#.#|#.#.#|.#.#.",
            "X": "#...#|#...#|.#.#.|..#..|.#.#.|#...#|#...#",
            "Y": "#...#|#...#|.#.#.|..#..|..#..|..#..|..#..",
            "Z": "#####|....#|...#.|..#..|.#...|#....|#####",
            ".": ".....|.....|.....|.....|.....|.##..|.##..",
            ",": ".....|.....|.....|.....|.##..|..#..|.#...",
            ":": ".....|.##..|.##..|.....|.##..|.##..|.....",
            ";": ".....|.##..|.##..|.....|.##..|..#..|.#...",
            "-": ".....|.....|.....|#####|.....|.....|.....",
            "+": ".....|..#..|..#..|#####|..#..|..#..|.....",
            "=": ".....|.....|#####|.....|#####|.....|.....",
            "_": ".....|.....|.....|.....|.....|.....|#####",
            "/": "....#|....#|...#.|..#..|.#...|#....|#....",
            "%": "##..#|##..#|...#.|..#..|.#...|#..##|#..##",
            "(": "...#.|..#..|.#...|.#...|.#...|..#..|...#.",
            ")": ".#...|..#..|...#.|...#.|...#.|..#..|.#...",
            "[": ".###.|.#...|.#...|.#...|.#...|.#...|.###.",
            "]": ".###.|...#.|...#.|...#.|...#.|...#.|.###.",
            "!": "..#..|..#..|..#..|..#..|..#..|.....|..#..",
            "?": ".###.|#...#|....#|...#.|..#..|.....|..#..",
            "#": ".#.#.|.#.#.|#####|.#.#.|#####|.#.#.|.#.#.",
            "'": "..#..|..#..|.#...|.....|.....|.....|.....",
            "\"": ".#.#.|.#.#.|.#.#.|.....|.....|.....|.....",
            "<": "...#.|..#..|.#...|#....|.#...|..#..|...#.",
            ">": ".#...|..#..|...#.|....#|...#.|..#..|.#...",
            "*": ".....|..#..|#.#.#|.###.|#.#.#|..#..|.....",
            "@": ".###.|#...#|#.###|#.#.#|#.###|#....|.###.",
        ]
        var table: [Character: [UInt8]] = [:]
        for (character, rows) in source {
            table[character] = rows.split(separator: "|").map { row in
                row.reduce(UInt8(0)) { ($0 << 1) | ($1 == "#" ? 1 : 0) }
            }
        }
        return table
    }()

    static let missing: [UInt8] = [0b11111, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11111]

    static func glyph(_ character: Character) -> [UInt8] {
        if let g = glyphs[character] { return g }
        if let upper = character.uppercased().first, let g = glyphs[upper] { return g }
        return missing
    }
}

extension Image {
    /// Draws `text` with the built-in 5x7 font, top-left corner at (x, y), each font cell
    /// `scale` x `scale` pixels; "\n" starts a new line. With `background`, a box behind the
    /// text (one cell of margin) keeps it readable on any picture.
    public mutating func drawText(_ text: String, x: Int, y: Int, color: Color, scale: Int = 1, background: Color? = nil) {
        let s = max(1, scale)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if let background {
            let columns = lines.map(\.count).max() ?? 0
            guard columns > 0 else { return }
            let w = (columns * BitmapFont.advance + 1) * s, h = (lines.count * BitmapFont.lineHeight - 1) * s
            drawRectangle(x: x - s, y: y - s, width: w + s, height: h, color: background, filled: true)
        }
        for (row, line) in lines.enumerated() {
            var penX = x
            let penY = y + row * BitmapFont.lineHeight * s
            for character in line {
                let glyph = BitmapFont.glyph(character)
                for gy in 0..<BitmapFont.glyphHeight {
                    for gx in 0..<BitmapFont.glyphWidth where glyph[gy] & (1 << (4 - gx)) != 0 {
                        drawRectangle(x: penX + gx * s, y: penY + gy * s, width: s, height: s, color: color, filled: true)
                    }
                }
                penX += BitmapFont.advance * s
            }
        }
    }

    /// The size `drawText` covers (without background), for placing labels.
    public static func textSize(_ text: String, scale: Int = 1) -> (width: Int, height: Int) {
        let s = max(1, scale)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let columns = lines.map(\.count).max() ?? 0
        return (max(0, columns * BitmapFont.advance - 1) * s, (lines.count * BitmapFont.lineHeight - 2) * s)
    }
}
