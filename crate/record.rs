//! What a result was made from, carried inside its PNG: every setting (the seed among them), the
//! inputs' names and SHA-256, the stylize version and the GPU adapter. Written as one uncompressed
//! iTXt chunk with keyword [`PNG_KEYWORD`] holding JSON, right after the IHDR chunk, so any PNG
//! writer's output can carry it (the page's worker encodes the PNG, then the record is inserted).
//! Read back by the CLI's `--settings-from` and by the page when such a PNG is dropped on it.

use crate::error::{Error, Result};
use crate::session::Settings;

/// The iTXt keyword of the record.
pub const PNG_KEYWORD: &str = "stylize";

const SIGNATURE: [u8; 8] = [137, 80, 78, 71, 13, 10, 26, 10];

/// One input image: its file name (as the user gave it) and the SHA-256 of its bytes (hex).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputRecord {
    pub name: String,
    pub sha256: String,
}

/// Everything needed to make a result again.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    /// The stylize version that made it.
    pub stylize: String,
    /// Every setting of the run.
    pub settings: Settings,
    /// The photo.
    pub content: InputRecord,
    /// The painting (the first, when several are blended).
    pub style: InputRecord,
    /// The further paintings blended, in order (`settings.style_blend` weighs them all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_paintings: Vec<InputRecord>,
    /// The region mask, with `settings.regions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<InputRecord>,
    /// Each painting's style mask (in the paintings' order; `None`: that painting has none);
    /// empty when no painting has one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub style_masks: Vec<Option<InputRecord>>,
    /// The GPU adapter (name and backend) and the kernels' conv path and storage: results are
    /// reproducible to the pixel on the same adapter and variant.
    pub adapter: String,
}

impl RunRecord {
    /// A record of `settings` with this crate's version.
    pub fn new(settings: &Settings, content: InputRecord, style: InputRecord, adapter: String) -> RunRecord {
        RunRecord {
            stylize: env!("CARGO_PKG_VERSION").into(),
            settings: settings.clone(),
            content,
            style,
            more_paintings: Vec::new(),
            mask: None,
            style_masks: Vec::new(),
            adapter,
        }
    }
}

/// The PNG chunks of `png` as (type, data), after checking the signature and each chunk's length.
fn chunks(png: &[u8]) -> Result<Vec<([u8; 4], &[u8])>> {
    if png.len() < 8 || png[..8] != SIGNATURE {
        return Err(Error::Image("it is not a PNG image".into()));
    }
    let mut out = Vec::new();
    let mut at = 8;
    while at + 12 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes")) as usize;
        let kind: [u8; 4] = png[at + 4..at + 8].try_into().expect("4 bytes");
        let end = at.checked_add(12 + len).filter(|&e| e <= png.len()).ok_or_else(|| Error::Image("the PNG is truncated".into()))?;
        out.push((kind, &png[at + 8..at + 8 + len]));
        at = end;
        if &kind == b"IEND" {
            break;
        }
    }
    Ok(out)
}

/// `png` with `record` inserted after its IHDR chunk (replacing a record it already carries).
/// Fails with [`Error::Image`] if `png` is not a PNG.
pub fn insert_png_record(png: &[u8], record: &RunRecord) -> Result<Vec<u8>> {
    let list = chunks(png)?;
    if list.first().map(|c| &c.0) != Some(b"IHDR") {
        return Err(Error::Image("the PNG does not start with its IHDR chunk".into()));
    }
    let text = serde_json::to_string(record).expect("a record serialises");
    // iTXt: keyword, NUL, compression flag 0, method 0, empty language tag NUL, empty translated
    // keyword NUL, UTF-8 text.
    let mut data = Vec::with_capacity(PNG_KEYWORD.len() + 5 + text.len());
    data.extend(PNG_KEYWORD.as_bytes());
    data.extend([0, 0, 0, 0, 0]);
    data.extend(text.as_bytes());
    let mut out = SIGNATURE.to_vec();
    for (i, (kind, body)) in list.iter().enumerate() {
        if &kind[..] == b"iTXt" && itxt_keyword(body) == Some(PNG_KEYWORD) {
            continue;
        }
        push_chunk(&mut out, kind, body);
        if i == 0 {
            push_chunk(&mut out, b"iTXt", &data);
        }
    }
    Ok(out)
}

fn push_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    out.extend(kind);
    out.extend(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend(crc.finalize().to_be_bytes());
}

fn itxt_keyword(body: &[u8]) -> Option<&str> {
    let nul = body.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&body[..nul]).ok()
}

/// The record `png` carries: `Ok(None)` for a PNG without one; [`Error::Image`] if `png` is not
/// a PNG; [`Error::Settings`] if the record cannot be read (compressed, or not this version's
/// settings).
pub fn read_png_record(png: &[u8]) -> Result<Option<RunRecord>> {
    for (kind, body) in chunks(png)? {
        if &kind != b"iTXt" || itxt_keyword(body) != Some(PNG_KEYWORD) {
            continue;
        }
        let rest = &body[PNG_KEYWORD.len() + 1..];
        if rest.len() < 2 || rest[0] != 0 {
            return Err(Error::Settings("its stylize record is compressed, which stylize does not write".into()));
        }
        // Skip the compression method, the language tag and the translated keyword.
        let mut tail = &rest[2..];
        for _ in 0..2 {
            let nul = tail.iter().position(|&b| b == 0).ok_or_else(|| Error::Settings("its stylize record is cut short".into()))?;
            tail = &tail[nul + 1..];
        }
        let text = std::str::from_utf8(tail).map_err(|_| Error::Settings("its stylize record is not UTF-8".into()))?;
        return serde_json::from_str(text).map(Some).map_err(|e| Error::Settings(format!("its stylize record cannot be read ({e})")));
    }
    Ok(None)
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
