//! Decoding the images a user brings natively (PNG, JPEG, WebP, GIF, BMP): EXIF orientation
//! applied as the browser does, and truncated JPEGs refused instead of decoded with their missing
//! rows filled in. The page decodes in the browser but runs [`check_complete`] first (through the
//! wasm bindings), so both front ends refuse a truncated file with the same message.

use crate::error::{Error, Result};
use image::{ImageDecoder, RgbaImage};

/// Decodes `bytes` (a file called `name`, for messages) to RGBA8 with its EXIF orientation
/// applied. Fails with [`Error::Image`] when the data is not an image, is truncated, or is in an
/// unsupported format.
pub fn decode(bytes: &[u8], name: &str) -> Result<RgbaImage> {
    check_complete(bytes, name)?;
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Image(format!("cannot read {name}: {e}")))?;
    let mut decoder = reader.into_decoder().map_err(|e| Error::Image(format!("cannot decode {name}: {e}")))?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(|e| Error::Image(format!("cannot decode {name}: {e}")))?;
    img.apply_orientation(orientation);
    Ok(img.to_rgba8())
}

/// Refuses a JPEG whose entropy-coded data has no end-of-image marker (a file cut off while
/// downloading or copying); other data passes. The message is the same in the CLI and the page.
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
