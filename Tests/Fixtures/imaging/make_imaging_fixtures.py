#!/usr/bin/env python3
"""Generates the Imaging test fixtures (run with the project venv: /tmp/py/bin/python).

Everything is seeded and written next to this script. References come from independent
implementations: OpenCV (cv2.imread, cv2.warpAffine, cv2.remap) and Pillow (Image.resize,
Image.convert). Raw references are `.rgb` files: height * width * 3 bytes, RGB, row-major;
manifest.json lists every case with its size and what produced it.
"""
import io, json, os, struct, zlib
import numpy as np
import cv2
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
RNG = np.random.default_rng(20240611)
manifest = {"opencv": cv2.__version__, "pillow": Image.__version__, "decode": [], "broken": [],
            "warp": [], "resize": [], "normalize": None}


def path(name):
    return os.path.join(HERE, name)


def save_rgb(name, rgb):
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    assert rgb.ndim == 3 and rgb.shape[2] == 3
    with open(path(name), "wb") as f:
        f.write(rgb.tobytes())
    return {"file": name, "width": int(rgb.shape[1]), "height": int(rgb.shape[0])}


def cv_read_rgb(p):
    bgr = cv2.imread(p, cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def pil_read_rgb(p):
    im = Image.open(p)
    im = ImageOps.exif_transpose(im)
    return np.asarray(im.convert("RGB"))


def scene(w, h):
    """A detailed test picture: gradients, discs, stripes and noise (chroma detail exercises
    upsampling; edges exercise interpolation)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / 7.0) * np.cos(y / 11.0)
    g = 255 * x / max(1, w - 1)
    b = 255 * y / max(1, h - 1)
    img = np.stack([r, g, b], -1)
    for _ in range(6):
        cx, cy, rad = RNG.uniform(0, w), RNG.uniform(0, h), RNG.uniform(3, min(w, h) / 3)
        col = RNG.uniform(0, 255, 3)
        img[(x - cx) ** 2 + (y - cy) ** 2 < rad ** 2] = col
    img[(x.astype(int) // 5) % 7 == 0] *= 0.5
    img += RNG.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------
# JPEG decodes (reference: cv2.imread, which applies EXIF orientation; PIL compared too)

def add_decode(name, kind, note=""):
    p = path(name)
    ref = cv_read_rgb(p)
    pil = pil_read_rgb(p)
    entry = save_rgb(name + ".rgb", ref)
    entry.update({"image": name, "kind": kind, "note": note,
                  "pil_equal": bool(pil.shape == ref.shape and (pil == ref).all()),
                  "pil_max_diff": int(np.abs(pil.astype(int) - ref.astype(int)).max()) if pil.shape == ref.shape else -1})
    manifest["decode"].append(entry)


base = scene(64, 48)
Image.fromarray(base).save(path("baseline.jpg"), quality=90)                       # 4:2:0
add_decode("baseline.jpg", "jpeg", "baseline 4:2:0 q90")
Image.fromarray(base).save(path("progressive.jpg"), quality=85, progressive=True)
add_decode("progressive.jpg", "jpeg", "progressive")
Image.fromarray(base).save(path("yuv444.jpg"), quality=95, subsampling=0)
add_decode("yuv444.jpg", "jpeg", "4:4:4")
Image.fromarray(scene(61, 37)).save(path("odd_422.jpg"), quality=80, subsampling=1)
add_decode("odd_422.jpg", "jpeg", "odd size 61x37, 4:2:2")
Image.fromarray(base).convert("L").save(path("gray.jpg"), quality=90)
add_decode("gray.jpg", "jpeg", "grayscale")
Image.fromarray(base).convert("CMYK").save(path("cmyk.jpg"), quality=90)
add_decode("cmyk.jpg", "jpeg", "Adobe CMYK; OpenCV's CMYK->RGB formula")

small = scene(24, 16)   # orientation: stored pixels are not upright; the decoder turns them
for o in range(1, 9):
    exif = Image.Exif()
    exif[0x0112] = o
    Image.fromarray(small).save(path(f"orient{o}.jpg"), quality=92, exif=exif.tobytes())
    add_decode(f"orient{o}.jpg", "jpeg", f"EXIF orientation {o}")

# ------------------------------------------------------------------------------------------
# PNG decodes: a tiny writer so every colour type, depth and Adam7 is available

def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff)


def pack_rows(samples, bit_depth):
    """samples: (h, w*channels) ints -> list of packed row bytes."""
    rows = []
    for row in samples:
        if bit_depth == 16:
            rows.append(b"".join(struct.pack(">H", int(v)) for v in row))
        elif bit_depth == 8:
            rows.append(bytes(int(v) for v in row))
        else:
            per = 8 // bit_depth
            out = bytearray()
            for i in range(0, len(row), per):
                byte = 0
                for j in range(per):
                    v = int(row[i + j]) if i + j < len(row) else 0
                    byte |= v << (8 - bit_depth * (j + 1))
                out.append(byte)
            rows.append(bytes(out))
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(name, pixels, color_type, bit_depth, interlace=False, palette=None, trns=None):
    """pixels: (h, w, channels) integer array."""
    h, w, ch = pixels.shape
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for (x0, y0, dx, dy) in passes:
        sub = pixels[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        for k, row in enumerate(pack_rows(sub.reshape(sub.shape[0], -1), bit_depth)):
            raw.append(k % 2)         # filters None and Sub alternate (Sub encoded below)
            if k % 2 == 1:
                bpp = max(1, ch * bit_depth // 8)
                enc = bytearray(row)
                for i in range(len(row) - 1, bpp - 1, -1):
                    enc[i] = (row[i] - row[i - bpp]) & 0xff
                raw += enc
            else:
                raw += row
    data = b"\x89PNG\r\n\x1a\n"
    data += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        data += png_chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).ravel()))
    if trns is not None:
        data += png_chunk(b"tRNS", trns)
    data += png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    data += png_chunk(b"IEND", b"")
    with open(path(name), "wb") as f:
        f.write(data)
    return data


rgb8 = scene(40, 30)
write_png("rgb8.png", rgb8, 2, 8); add_decode("rgb8.png", "png", "8-bit RGB")
rgb16 = (rgb8.astype(np.uint32) * 257 + RNG.integers(0, 256, rgb8.shape)).clip(0, 65535)
write_png("rgb16.png", rgb16, 2, 16); add_decode("rgb16.png", "png", "16-bit RGB, random low bytes: high byte kept")
gray = rgb8[..., 1:2]
write_png("gray8.png", gray, 0, 8); add_decode("gray8.png", "png", "8-bit gray")
write_png("gray4.png", gray >> 4, 0, 4); add_decode("gray4.png", "png", "4-bit gray")
write_png("gray16.png", gray.astype(np.uint32) * 256 + 255, 0, 16); add_decode("gray16.png", "png", "16-bit gray")
ga = np.concatenate([gray, RNG.integers(0, 256, gray.shape)], -1)
write_png("gray_alpha.png", ga, 4, 8); add_decode("gray_alpha.png", "png", "gray + alpha (alpha dropped)")
rgba = np.concatenate([rgb8, RNG.integers(0, 256, gray.shape)], -1)
write_png("rgba.png", rgba, 6, 8); add_decode("rgba.png", "png", "RGBA (alpha dropped, no blending)")
pal = RNG.integers(0, 256, (16, 3))
idx = (rgb8[..., :1].astype(int) * 16 // 256)
write_png("palette_trns.png", idx, 3, 4, palette=pal, trns=bytes(RNG.integers(0, 256, 16).astype(np.uint8)))
add_decode("palette_trns.png", "png", "4-bit palette with tRNS (transparency dropped)")
write_png("interlaced.png", rgb8, 2, 8, interlace=True); add_decode("interlaced.png", "png", "Adam7 interlaced RGB")
write_png("interlaced_rgba16.png", np.concatenate([rgb16, rgb16[..., :1]], -1), 6, 16, interlace=True)
add_decode("interlaced_rgba16.png", "png", "Adam7, 16-bit RGBA")

# ------------------------------------------------------------------------------------------
# Broken files: each must give an ImageError naming the file

def broken(name, data, expect):
    with open(path(name), "wb") as f:
        f.write(data)
    manifest["broken"].append({"file": name, "expect": expect})


jpeg = open(path("baseline.jpg"), "rb").read()
broken("truncated.jpg", jpeg[: len(jpeg) // 2], "corrupt")
png = open(path("rgb8.png"), "rb").read()
i = png.index(b"IDAT") + 20
broken("bad_crc.png", png[:i] + bytes([png[i] ^ 0x55]) + png[i + 1:], "corrupt")
broken("truncated.png", png[: len(png) * 2 // 3], "corrupt")


def jpeg_with_size(data, w, h):
    k = data.index(b"\xff\xc0")        # SOF0: FFC0 len(2) precision(1) height(2) width(2)
    return data[: k + 5] + struct.pack(">HH", h, w) + data[k + 9:]


broken("zero_size.jpg", jpeg_with_size(jpeg, 0, 0), "empty")
broken("huge.jpg", jpeg_with_size(jpeg, 60000, 60000), "tooLarge")
ihdr = lambda w, h: png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
broken("zero_size.png", png[:8] + ihdr(0, 0) + png[33:], "empty")
broken("huge.png", png[:8] + ihdr(60000, 60000) + png[33:], "tooLarge")
broken("garbage.jpg", bytes(RNG.integers(0, 256, 300).astype(np.uint8)), "unknownFormat")
broken("empty.png", b"", "corrupt")
broken("header_only.jpg", jpeg[:200], "corrupt")

# ------------------------------------------------------------------------------------------
# warpAffine: current OpenCV (float32 kernels, >= 4.11) from cv2.warpAffine itself, and the
# OpenCV <= 4.10 fixed-point result from cv2.remap with the fixed-point maps that
# WarpAffineInvoker builds (imgwarp.cpp), so the integer interpolation is OpenCV's own.

warp_src = scene(160, 120)
write_png("warp_source.png", warp_src, 2, 8)


def cv_round(v):
    r = np.rint(v)
    return np.where((r >= -2 ** 31) & (r <= 2 ** 31 - 1), r, -2 ** 31).astype(np.int64)


def invert_like_opencv(M):
    M = [float(v) for v in np.asarray(M, dtype=np.float64).ravel()]
    D = M[0] * M[4] - M[1] * M[3]
    D = 1.0 / D if D != 0 else 0.0
    A11, A22 = M[4] * D, M[0] * D
    M[0] = A11; M[1] *= -D; M[3] *= -D; M[4] = A22
    b1 = -M[0] * M[2] - M[1] * M[5]; b2 = -M[3] * M[2] - M[4] * M[5]
    M[2], M[5] = b1, b2
    return M


def legacy_warp(img, M, w, h):
    Mi = invert_like_opencv(M)
    xs = np.arange(w, dtype=np.float64); ys = np.arange(h, dtype=np.float64)
    ad = cv_round(Mi[0] * xs * 1024); bd = cv_round(Mi[3] * xs * 1024)
    X0 = cv_round((Mi[1] * ys + Mi[2]) * 1024) + 16
    Y0 = cv_round((Mi[4] * ys + Mi[5]) * 1024) + 16
    wrap = lambda a: ((a + 2 ** 31) % 2 ** 32) - 2 ** 31
    X = wrap(X0[:, None] + ad[None, :]) >> 5
    Y = wrap(Y0[:, None] + bd[None, :]) >> 5
    xy = np.stack([np.clip(X >> 5, -32768, 32767), np.clip(Y >> 5, -32768, 32767)], -1).astype(np.int16)
    alpha = ((Y & 31) * 32 + (X & 31)).astype(np.uint16)
    return cv2.remap(img, xy, alpha, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def official_crop_matrix(center, scale, rot, out_w, out_h):
    """HRNet's get_affine_transform (lib/utils/transforms.py): 3 point pairs."""
    src_w = scale[0] * 200.0
    rad = np.pi * rot / 180
    sn, cs = np.sin(rad), np.cos(rad)
    src_dir = np.array([0 * cs - src_w * -0.5 * sn, 0 * sn + src_w * -0.5 * cs])
    dst_dir = np.array([0, out_w * -0.5])
    src = np.zeros((3, 2), np.float32); dst = np.zeros((3, 2), np.float32)
    src[0] = center; src[1] = center + src_dir
    dst[0] = [out_w * 0.5, out_h * 0.5]; dst[1] = dst[0] + dst_dir
    third = lambda a, b: b + np.array([-(a - b)[1], (a - b)[0]], np.float32)
    src[2] = third(src[0], src[1]); dst[2] = third(dst[0], dst[1])
    return cv2.getAffineTransform(src, dst)


cases = [
    ("identity", np.array([[1, 0, 0], [0, 1, 0]], np.float64), 48, 40),
    ("shift_sub", np.array([[1, 0, -10.37], [0, 1, 7.61]]), 61, 45),
    ("scale_rot_translate", cv2.getRotationMatrix2D((70.5, 50.25), 23.0, 1.37), 96, 80),
    ("shrink_rot", cv2.getRotationMatrix2D((80, 60), -61.0, 0.43), 64, 48),
    ("partly_outside", np.array([[1.9, 0.3, 60.0], [-0.25, 1.7, -40.0]]), 80, 64),
    ("hrnet_crop", official_crop_matrix(np.array([120.0, 40.0]), np.array([0.6, 0.8]), 30.0, 48, 64), 48, 64),
    ("hrnet_crop_flat", official_crop_matrix(np.array([30.0, 100.0]), np.array([0.5, 0.66]), 0.0, 37, 51), 37, 51),
    ("mirror", np.array([[-1.2, 0.0, 150.0], [0.0, 1.1, -3.5]]), 77, 50),
]
for name, M, w, h in cases:
    modern = cv2.cvtColor(cv2.warpAffine(cv2.cvtColor(warp_src, cv2.COLOR_RGB2BGR), M, (w, h),
                                         flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0),
                          cv2.COLOR_BGR2RGB)
    legacy = legacy_warp(warp_src, M, w, h)
    e1 = save_rgb(f"warp_{name}.rgb", modern)
    e2 = save_rgb(f"warp_{name}_fixed.rgb", legacy)
    # Matrices as repr strings: some JSON parsers (Foundation's on Linux) round doubles.
    manifest["warp"].append({"name": name, "matrix": [repr(float(v)) for v in np.asarray(M).ravel()],
                             "width": w, "height": h, "float32": e1["file"], "fixedPoint": e2["file"],
                             "float32_vs_fixed_max_diff": int(np.abs(modern.astype(int) - legacy.astype(int)).max())})

# ------------------------------------------------------------------------------------------
# PIL resize (BILINEAR, antialiased when shrinking)

for (w, h) in [(37, 23), (176, 66), (80, 131), (160, 60), (7, 5), (100, 200)]:
    out = np.asarray(Image.fromarray(warp_src).resize((w, h), Image.BILINEAR))
    e = save_rgb(f"resize_{w}x{h}.rgb", out)
    manifest["resize"].append(e)

# ------------------------------------------------------------------------------------------
# normalizedCHW: torchvision ToTensor + Normalize arithmetic in float32

mean = np.array([0.485, 0.456, 0.406], np.float32); std = np.array([0.229, 0.224, 0.225], np.float32)
chw = ((rgb8.astype(np.float32) / np.float32(255)) - mean) / std
chw = np.ascontiguousarray(chw.transpose(2, 0, 1), dtype="<f4")
with open(path("rgb8_normalized_chw.f32"), "wb") as f:
    f.write(chw.tobytes())
manifest["normalize"] = {"image": "rgb8.png", "file": "rgb8_normalized_chw.f32",
                         "mean": mean.tolist(), "std": std.tolist()}

# ------------------------------------------------------------------------------------------
# person.jpg: a self-made 320x240 scene with a person-like figure for pose end-to-end tests

def person_scene():
    h, w = 240, 320
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    sky = y < 150
    img[sky] = np.stack([110 + 0.3 * y, 160 + 0.2 * y, 230 - 0.1 * y], -1)[sky]
    img[~sky] = np.stack([70 + 0.2 * y, 120 + 0.1 * y, 60 + 0 * y], -1)[~sky]
    canvas = np.clip(img + RNG.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
    bgr = np.ascontiguousarray(canvas[..., ::-1])
    skin, shirt, trousers = (150, 180, 225), (40, 40, 190), (90, 60, 40)   # BGR
    joints = {"head": (160, 52), "neck": (160, 74), "ls": (138, 80), "rs": (182, 80),
              "le": (124, 110), "re": (198, 106), "lw": (116, 138), "rw": (214, 130),
              "lh": (147, 140), "rh": (173, 140), "lk": (142, 178), "rk": (180, 178),
              "la": (138, 214), "ra": (186, 214)}
    J = {k: tuple(int(v) for v in p) for k, p in joints.items()}
    cv2.fillConvexPoly(bgr, np.array([J["ls"], J["rs"], J["rh"], J["lh"]], np.int32), shirt, cv2.LINE_AA)
    for a, b, col, t in [("ls", "le", shirt, 11), ("le", "lw", skin, 9), ("rs", "re", shirt, 11), ("re", "rw", skin, 9),
                         ("lh", "lk", trousers, 14), ("lk", "la", trousers, 12), ("rh", "rk", trousers, 14),
                         ("rk", "ra", trousers, 12), ("neck", "head", skin, 10)]:
        cv2.line(bgr, J[a], J[b], col, t, cv2.LINE_AA)
    cv2.circle(bgr, J["head"], 17, skin, -1, cv2.LINE_AA)
    cv2.circle(bgr, (154, 48), 2, (30, 30, 30), -1); cv2.circle(bgr, (166, 48), 2, (30, 30, 30), -1)
    cv2.ellipse(bgr, (160, 40), (17, 9), 0, 180, 360, (20, 30, 50), -1, cv2.LINE_AA)  # hair
    for foot in ("la", "ra"):
        cv2.ellipse(bgr, (J[foot][0] + 4, J[foot][1] + 4), (9, 5), 0, 0, 360, (30, 30, 30), -1, cv2.LINE_AA)
    bgr = cv2.GaussianBlur(bgr, (3, 3), 0.6)
    cv2.imwrite(path("person.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    manifest["person"] = {"file": "person.jpg", "width": w, "height": h, "joints_xy": joints}


person_scene()

with open(path("manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
print("pil/cv2 decode agreement:", [(d["image"], d["pil_equal"], d["pil_max_diff"]) for d in manifest["decode"]])
print("float32 vs fixed-point warp max diff:", [(w["name"], w["float32_vs_fixed_max_diff"]) for w in manifest["warp"]])
