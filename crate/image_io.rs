//! Decoding the images a user brings natively (PNG, JPEG, WebP, GIF, BMP; grayscale, palette,
//! 16-bit, CMYK and progressive included): EXIF orientation applied as the browser does,
//! transparency composited on white (as the page does), the first frame of an animation, very
//! large photos downscaled right after decoding, and refusals with one clear message for what
//! cannot be read — truncated JPEGs (which decoders otherwise fill in), absurd declared dimensions
//! (before anything is allocated), empty files and other formats. The page decodes in the browser
//! but runs [`check`] first (through the wasm bindings), so both front ends refuse those files
//! with the same messages.

use crate::error::{Error, Result};
use image::{DynamicImage, ImageDecoder, ImageFormat, RgbaImage};
use std::io::Cursor;

/// Largest side (px) an input may declare; larger headers are refused before decoding.
pub const MAX_INPUT_SIDE: u32 = 30_000;

/// Longer side (px) inputs are downscaled to right after decoding: twice the largest output
/// (4096 px), so a painting can still be used at style scale 2.
pub const MAX_WORKING_SIDE: u32 = 8192;

/// Most bytes a decoder may allocate (a 16-bit RGBA image of 12,000 × 9,000 px needs 864 MB).
const MAX_DECODE_BYTES: u64 = 1 << 30;

const FORMATS: &str = "PNG, JPEG, WebP, GIF or BMP";

/// Decodes `bytes` (a file called `name`, for messages) to RGBA8: EXIF orientation applied,
/// transparency composited on white, longer side at most [`MAX_WORKING_SIDE`]. Fails with
/// [`Error::Image`] naming the file and what is wrong with it.
pub fn decode(bytes: &[u8], name: &str) -> Result<RgbaImage> {
    check(bytes, name)?;
    check_format(bytes, name)?;
    let bad = |e: image::ImageError| Error::Image(format!("cannot decode {name}: {e}"));
    let mut reader = image::ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| Error::Image(format!("cannot read {name}: {e}")))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_INPUT_SIDE);
    limits.max_image_height = Some(MAX_INPUT_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(bad)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(bad)?;
    let (w, h) = (img.width(), img.height());
    if w.max(h) > MAX_WORKING_SIDE {
        let k = MAX_WORKING_SIDE as f64 / w.max(h) as f64;
        let (nw, nh) = (((w as f64 * k).round() as u32).max(1), ((h as f64 * k).round() as u32).max(1));
        img = img.resize_exact(nw, nh, image::imageops::FilterType::Triangle);
    }
    img.apply_orientation(orientation);
    Ok(on_white(img.to_rgba8()))
}

/// Composites every pixel over opaque white (alpha 255 afterwards).
fn on_white(mut img: RgbaImage) -> RgbaImage {
    for p in img.pixels_mut() {
        let a = p[3] as u32;
        if a < 255 {
            for c in 0..3 {
                p[c] = ((p[c] as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
            }
            p[3] = 255;
        }
    }
    img
}

/// What can be told from the bytes alone, before decoding: refuses an empty file, a header
/// declaring more than [`MAX_INPUT_SIDE`] px per side (read without decoding), and a truncated
/// JPEG. The same check, with the same messages, in the CLI and the page (where the browser then
/// decodes whatever formats it knows).
pub fn check(bytes: &[u8], name: &str) -> Result<()> {
    if bytes.is_empty() {
        return Err(Error::Image(format!("cannot decode {name}: the file is empty")));
    }
    check_complete(bytes, name)?;
    // The decoder's header read, or (where its size arithmetic overflows, as on 32-bit wasm) a PNG's
    // IHDR read directly, so both front ends see the same numbers.
    let decoded = image::guess_format(bytes).ok().and_then(|f| image::ImageReader::with_format(Cursor::new(bytes), f).into_dimensions().ok());
    let dims = decoded.or_else(|| png_dimensions(bytes));
    if let Some((w, h)) = dims {
        if w.max(h) > MAX_INPUT_SIDE || w == 0 || h == 0 {
            return Err(Error::Image(format!("cannot decode {name}: it declares {w}×{h} pixels; stylize reads images of 1 to {MAX_INPUT_SIDE} px per side")));
        }
    }
    Ok(())
}

/// Width and height from a PNG's IHDR chunk, if `bytes` starts like a PNG.
fn png_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    Some((be(16), be(20)))
}

/// Refuses data in a format the native decoder does not read, naming the format when known.
fn check_format(bytes: &[u8], name: &str) -> Result<()> {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif | ImageFormat::Bmp) => Ok(()),
        Ok(f) => {
            let what = f.extensions_str().first().map(|e| e.to_uppercase()).unwrap_or_else(|| format!("{f:?}"));
            Err(Error::Image(format!("cannot decode {name}: it is a {what} image, which stylize does not read; use {FORMATS}")))
        }
        Err(_) => Err(Error::Image(format!("cannot decode {name}: it is not an image stylize can read ({FORMATS})"))),
    }
}

/// Refuses a JPEG whose entropy-coded data has no end-of-image marker (a file cut off while
/// downloading or copying); other data passes.
pub fn check_complete(bytes: &[u8], name: &str) -> Result<()> {
    if bytes.len() < 2 || bytes[..2] != [0xFF, 0xD8] {
        return Ok(()); // not a JPEG
    }
    let truncated = || Error::Image(format!("{name} is truncated: its JPEG data ends before the end-of-image marker (the file was cut off; download or copy it again)"));
    // Walk the marker segments up to the first start-of-scan: their payloads (EXIF thumbnails
    // included) may contain any bytes.
    let mut pos = 2;
    loop {
        while bytes.get(pos) == Some(&0xFF) && bytes.get(pos + 1) == Some(&0xFF) {
            pos += 1; // fill bytes
        }
        match (bytes.get(pos), bytes.get(pos + 1)) {
            (Some(0xFF), Some(0xDA)) => break,
            (Some(0xFF), Some(0xD9)) => return Err(truncated()), // end before any scan
            (Some(0xFF), Some(m)) if (0xD0..=0xD7).contains(m) || *m == 0x01 => pos += 2,
            (Some(0xFF), Some(_)) => {
                let len = match (bytes.get(pos + 2), bytes.get(pos + 3)) {
                    (Some(&a), Some(&b)) => u16::from_be_bytes([a, b]) as usize,
                    _ => return Err(truncated()),
                };
                pos += 2 + len;
            }
            (None, _) | (Some(0xFF), None) => return Err(truncated()),
            // Not a marker where one must be: corrupt rather than truncated; the decoder says so.
            _ => return Ok(()),
        }
    }
    // In entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so FF D9 after
    // the first scan header is the end-of-image marker (trailers after it are fine).
    if bytes[pos..].windows(2).any(|w| w == [0xFF, 0xD9]) {
        Ok(())
    } else {
        Err(truncated())
    }
}

/// Reads and decodes the image file at `path` (native only). See [`decode`].
#[cfg(not(target_arch = "wasm32"))]
pub fn load(path: &std::path::Path) -> Result<RgbaImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::Image(format!("cannot open {}: {e}", path.display())))?;
    decode(&bytes, &path.display().to_string())
}
