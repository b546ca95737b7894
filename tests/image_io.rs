//! Native image decoding (stylize::image_io, used by the CLI): EXIF orientation applied as browsers
//! do, truncated JPEGs refused with the message the page shows too. No GPU.

mod common;
use common::*;
use stylize::image_io::{check_complete, decode};

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
