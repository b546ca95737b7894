//! Native image decoding (stylize::image_io, used by the CLI) over a corpus generated here: every
//! valid-but-unusual kind of image people have (grayscale, grayscale + alpha, palette, 16-bit,
//! transparency, CMYK and progressive JPEG, animated GIF, WebP, BMP, every EXIF orientation, a very
//! large photo) decodes to the right size and colours, and every invalid one (empty, truncated,
//! text, another format, absurd declared dimensions) is refused with one clear message. The corpus
//! and its expectations are written to test-output/corpus/ for the browser suite
//! (tests/e2e/inputs.test.mjs), which runs the same files through the page. No GPU.

mod common;
use common::*;
use image::{ImageEncoder, Rgb, RgbImage};
use serde_json::json;
use stylize::image_io::{check_complete, decode, MAX_WORKING_SIDE};

#[test]
fn exif_orientation_is_applied() {
    // A landscape photo stored with orientation 6 (rotate 90° clockwise to display) is portrait,
    // its left (red) half on top.
    let stored = jpeg(&half_red_half_blue(40, 20));
    let img = decode(&with_exif_orientation(&stored, 6), "rotated.jpg").unwrap();
    assert_eq!((img.width(), img.height()), (20, 40), "orientation 6 turns 40×20 into 20×40");
    let top = img.get_pixel(10, 5).0;
    let bottom = img.get_pixel(10, 35).0;
    assert!(top[0] > 150 && top[2] < 100, "red on top: {top:?}");
    assert!(bottom[2] > 150 && bottom[0] < 100, "blue at the bottom: {bottom:?}");
    // Orientation 1 and no EXIF leave it as stored.
    assert_eq!(decode(&with_exif_orientation(&stored, 1), "a.jpg").unwrap().dimensions(), (40, 20));
    assert_eq!(decode(&stored, "a.jpg").unwrap().dimensions(), (40, 20));
}

#[test]
fn a_truncated_jpeg_is_refused() {
    let whole = with_exif_orientation(&jpeg(&half_red_half_blue(64, 48)), 1);
    assert!(decode(&whole, "photo.jpg").is_ok());
    for keep in [whole.len() - 2, whole.len() * 2 / 3, whole.len() / 3, 30] {
        let e = decode(&whole[..keep], "photo.jpg").unwrap_err().to_string();
        assert!(e.contains("photo.jpg is truncated"), "{keep} of {} bytes: {e}", whole.len());
    }
    // Data after the end-of-image marker (camera trailers) is fine.
    let mut trailer = whole.clone();
    trailer.extend(b"some trailer \xFF\xD8 bytes");
    check_complete(&trailer, "t.jpg").unwrap();
    // Not JPEG: left to the decoders.
    check_complete(b"\x89PNG\r\n", "x.png").unwrap();
}

/// Stored test image: four quadrants of distinct colours (JPEG-safe blocks).
const QUAD: [[u8; 3]; 4] = [[220, 30, 30], [30, 200, 30], [30, 30, 220], [230, 220, 30]];
const W: u32 = 32;
const H: u32 = 16;

fn quad_color(x: u32, y: u32, w: u32, h: u32) -> [u8; 3] {
    QUAD[((y >= h / 2) as usize) * 2 + (x >= w / 2) as usize]
}

fn quad(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb(quad_color(x, y, w, h)))
}

/// Where displayed pixel (x, y) comes from in a `w`×`h` stored image under EXIF orientation `o`.
fn stored_at(o: u16, x: u32, y: u32, w: u32, h: u32) -> (u32, u32) {
    match o {
        1 => (x, y),
        2 => (w - 1 - x, y),
        3 => (w - 1 - x, h - 1 - y),
        4 => (x, h - 1 - y),
        5 => (y, x),
        6 => (y, h - 1 - x),
        7 => (w - 1 - y, h - 1 - x),
        8 => (w - 1 - y, x),
        _ => unreachable!(),
    }
}

/// Probes at the centres of the displayed quadrants of a `dw`×`dh` image: (x, y, expected RGB).
fn probes(dw: u32, dh: u32, expect: impl Fn(u32, u32) -> [u8; 3]) -> Vec<(u32, u32, [u8; 3])> {
    [(dw / 4, dh / 4), (3 * dw / 4, dh / 4), (dw / 4, 3 * dh / 4), (3 * dw / 4, 3 * dh / 4)].into_iter().map(|(x, y)| (x, y, expect(x, y))).collect()
}

enum Expect {
    /// Decoded size and colour probes (tolerance per channel).
    Image { w: u32, h: u32, probes: Vec<(u32, u32, [u8; 3])>, tol: u8 },
    /// Refused with a message containing this; `shared`: the page says exactly the same.
    Refused { phrase: String, shared: bool },
}

fn png_with(w: u32, h: u32, color: png::ColorType, depth: png::BitDepth, palette: Option<Vec<u8>>, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(depth);
        if let Some(p) = palette {
            enc.set_palette(p);
        }
        enc.write_header().unwrap().write_image_data(data).unwrap();
    }
    out
}

/// A PNG header alone, declaring `w`×`h` (CRC computed), then an empty IDAT and IEND.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn crc(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }
    let chunk = |kind: &[u8], body: &[u8]| {
        let mut v = (body.len() as u32).to_be_bytes().to_vec();
        let mut kb = kind.to_vec();
        kb.extend(body);
        v.extend(&kb);
        v.extend(crc(&kb).to_be_bytes());
        v
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
    out.extend(chunk(b"IEND", &[]));
    out
}

fn corpus() -> Vec<(String, Vec<u8>, Expect)> {
    let q = quad(W, H);
    let plain = |tol| Expect::Image { w: W, h: H, probes: probes(W, H, |x, y| quad_color(x, y, W, H)), tol };
    let mut v: Vec<(String, Vec<u8>, Expect)> = Vec::new();
    let enc = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut out = Vec::new();
        f(&mut out);
        out
    };
    v.push(("rgb.png".into(), enc(&|o| image::codecs::png::PngEncoder::new(o).write_image(q.as_raw(), W, H, image::ExtendedColorType::Rgb8).unwrap()), plain(2)));
    // Grayscale: the quadrants' luma levels.
    let levels = [40u8, 100, 160, 220];
    let gray: Vec<u8> = (0..W * H).map(|i| levels[(((i / W) >= H / 2) as usize) * 2 + ((i % W) >= W / 2) as usize]).collect();
    let gray_expect = |x: u32, y: u32| {
        let l = levels[((y >= H / 2) as usize) * 2 + (x >= W / 2) as usize];
        [l, l, l]
    };
    v.push((
        "gray.png".into(),
        png_with(W, H, png::ColorType::Grayscale, png::BitDepth::Eight, None, &gray),
        Expect::Image { w: W, h: H, probes: probes(W, H, gray_expect), tol: 2 },
    ));
    // Grayscale + alpha: the bottom-right quadrant fully transparent → white.
    let ga: Vec<u8> = gray.iter().enumerate().flat_map(|(i, &l)| [l, if (i as u32 % W) >= W / 2 && (i as u32 / W) >= H / 2 { 0 } else { 255 }]).collect();
    let ga_expect = move |x: u32, y: u32| if x >= W / 2 && y >= H / 2 { [255; 3] } else { gray_expect(x, y) };
    v.push((
        "gray-alpha.png".into(),
        png_with(W, H, png::ColorType::GrayscaleAlpha, png::BitDepth::Eight, None, &ga),
        Expect::Image { w: W, h: H, probes: probes(W, H, ga_expect), tol: 2 },
    ));
    // Palette: four entries.
    let idx: Vec<u8> = (0..W * H).map(|i| (((i / W) >= H / 2) as u8) * 2 + ((i % W) >= W / 2) as u8).collect();
    v.push(("palette.png".into(), png_with(W, H, png::ColorType::Indexed, png::BitDepth::Eight, Some(QUAD.concat()), &idx), plain(2)));
    // 16-bit RGB.
    let rgb16: Vec<u8> = q.as_raw().iter().flat_map(|&c| ((c as u16) * 257).to_be_bytes()).collect();
    v.push(("rgb16.png".into(), png_with(W, H, png::ColorType::Rgb, png::BitDepth::Sixteen, None, &rgb16), plain(2)));
    // Transparency: top-left fully transparent (→ white), top-right half (→ halfway to white).
    let rgba: Vec<u8> = (0..W * H)
        .flat_map(|i| {
            let (x, y) = (i % W, i / W);
            let c = quad_color(x, y, W, H);
            let a = if y < H / 2 {
                if x < W / 2 {
                    0
                } else {
                    128
                }
            } else {
                255
            };
            [c[0], c[1], c[2], a]
        })
        .collect();
    let rgba_expect = |x: u32, y: u32| {
        let c = quad_color(x, y, W, H);
        if y >= H / 2 {
            c
        } else if x < W / 2 {
            [255; 3]
        } else {
            c.map(|v| ((v as u32 * 128 + 255 * 127) / 255) as u8)
        }
    };
    v.push((
        "transparent.png".into(),
        png_with(W, H, png::ColorType::Rgba, png::BitDepth::Eight, None, &rgba),
        Expect::Image { w: W, h: H, probes: probes(W, H, rgba_expect), tol: 3 },
    ));
    v.push(("baseline.jpg".into(), jpeg(&q), plain(24)));
    let progressive = enc(&|o| {
        let mut e = jpeg_encoder::Encoder::new(o, 95);
        e.set_progressive(true);
        e.encode(q.as_raw(), W as u16, H as u16, jpeg_encoder::ColorType::Rgb).unwrap();
    });
    v.push(("progressive.jpg".into(), progressive, plain(24)));
    let cmyk: Vec<u8> = q
        .as_raw()
        .chunks(3)
        .flat_map(|p| {
            let k = 255 - *p.iter().max().unwrap();
            let f = |c: u8| if k == 255 { 0 } else { ((255 - c - k) as u32 * 255 / (255 - k) as u32) as u8 };
            [f(p[0]), f(p[1]), f(p[2]), k]
        })
        .collect();
    let cmyk_jpeg = enc(&|o| jpeg_encoder::Encoder::new(o, 95).encode(&cmyk, W as u16, H as u16, jpeg_encoder::ColorType::Cmyk).unwrap());
    v.push(("cmyk.jpg".into(), cmyk_jpeg, plain(32)));
    // Animated GIF: the first frame is the picture.
    let gif = enc(&|o| {
        let mut e = image::codecs::gif::GifEncoder::new(o);
        let first = image::Frame::new(image::DynamicImage::ImageRgb8(q.clone()).to_rgba8());
        let second = image::Frame::new(image::RgbaImage::from_pixel(W, H, image::Rgba([0, 0, 0, 255])));
        e.encode_frames([first, second]).unwrap();
    });
    v.push(("animated.gif".into(), gif, plain(8)));
    v.push(("lossless.webp".into(), enc(&|o| image::codecs::webp::WebPEncoder::new_lossless(o).write_image(q.as_raw(), W, H, image::ExtendedColorType::Rgb8).unwrap()), plain(2)));
    v.push(("bitmap.bmp".into(), enc(&|o| image::codecs::bmp::BmpEncoder::new(o).write_image(q.as_raw(), W, H, image::ExtendedColorType::Rgb8).unwrap()), plain(2)));
    for o in 1..=8u16 {
        let (dw, dh) = if o >= 5 { (H, W) } else { (W, H) };
        let expect = move |x: u32, y: u32| {
            let (sx, sy) = stored_at(o, x, y, W, H);
            quad_color(sx, sy, W, H)
        };
        v.push((format!("orientation-{o}.jpg"), with_exif_orientation(&jpeg(&q), o), Expect::Image { w: dw, h: dh, probes: probes(dw, dh, expect), tol: 24 }));
    }
    // A very large photo: decoded, then downscaled to MAX_WORKING_SIDE natively.
    let (bw, bh) = (12_000u32, 4_000u32);
    let big = enc(&|o| image::codecs::png::PngEncoder::new(o).write_image(quad(bw, bh).as_raw(), bw, bh, image::ExtendedColorType::Rgb8).unwrap());
    let (sw, sh) = (MAX_WORKING_SIDE, (bh as f64 * MAX_WORKING_SIDE as f64 / bw as f64).round() as u32);
    v.push(("large-12000x4000.png".into(), big, Expect::Image { w: sw, h: sh, probes: probes(sw, sh, |x, y| quad_color(x, y, sw, sh)), tol: 2 }));
    // Invalid.
    let refused = |p: &str, shared| Expect::Refused { phrase: p.into(), shared };
    v.push(("empty.png".into(), Vec::new(), refused("cannot decode empty.png: the file is empty", true)));
    let whole = jpeg(&q);
    v.push(("cut.jpg".into(), whole[..whole.len() / 2].to_vec(), refused("cut.jpg is truncated: its JPEG data ends before the end-of-image marker", true)));
    let png = png_with(W, H, png::ColorType::Rgb, png::BitDepth::Eight, None, q.as_raw());
    v.push(("cut.png".into(), png[..png.len() / 2].to_vec(), refused("cannot decode cut.png", false)));
    v.push(("notes.png".into(), b"these are my notes, not a picture\n".to_vec(), refused("cannot decode notes.png: it is not an image stylize can read", false)));
    v.push(("scan.tif".into(), b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00".to_vec(), refused("cannot decode scan.tif: it is a TIFF image, which stylize does not read", false)));
    v.push(("huge.png".into(), png_header_only(100_000, 100_000), refused("cannot decode huge.png: it declares 100000×100000 pixels", true)));
    v
}

#[test]
fn the_corpus_decodes_or_is_refused_clearly() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-output/corpus");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut manifest = Vec::new();
    for (name, bytes, expect) in corpus() {
        std::fs::write(dir.join(&name), &bytes).unwrap();
        let got = decode(&bytes, &name);
        match &expect {
            Expect::Image { w, h, probes, tol } => {
                let img = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(img.dimensions(), (*w, *h), "{name}: size");
                for &(x, y, want) in probes {
                    let p = img.get_pixel(x, y).0;
                    let close = (0..3).all(|c| p[c].abs_diff(want[c]) <= *tol);
                    assert!(close && p[3] == 255, "{name}: pixel ({x}, {y}) is {p:?}, expected {want:?} ± {tol}, opaque");
                }
                eprintln!("{name}: {}×{} ok", w, h);
                manifest.push(json!({ "file": name, "ok": true, "width": w, "height": h, "tol": tol,
                    "probes": probes.iter().map(|(x, y, c)| json!({ "x": x, "y": y, "rgb": c })).collect::<Vec<_>>() }));
            }
            Expect::Refused { phrase, shared } => {
                let msg = got.err().unwrap_or_else(|| panic!("{name}: refused")).to_string();
                assert!(msg.contains(phrase.as_str()), "{name}: {msg}");
                assert_eq!(msg.lines().count(), 1, "{name}: one line");
                eprintln!("{name}: refused: {msg}");
                manifest.push(json!({ "file": name, "ok": false, "message": if *shared { Some(msg) } else { None } }));
            }
        }
    }
    std::fs::write(dir.join("manifest.json"), serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}
