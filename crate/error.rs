//! The one error type of the engine: every failure a user can cause or meet, with a message that
//! says what went wrong and what to do.

/// Errors returned by the engine. `Display` gives a one-line, user-facing message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No GPU adapter (WebGPU unavailable, or no Vulkan/Metal/DX12 device).
    #[error("no GPU adapter found: {0}")]
    NoAdapter(String),
    /// The adapter refused to open a device with the limits the engine needs.
    #[error("could not open the GPU device: {0}")]
    Device(String),
    /// The weights file is missing, unreadable, or not the VGG19 conv weights we expect.
    #[error("weights: {0}")]
    Weights(String),
    /// An input image could not be read or decoded.
    #[error("image: {0}")]
    Image(String),
    /// Invalid settings (size, iterations, weights of the loss, ...).
    #[error("settings: {0}")]
    Settings(String),
    /// The requested size does not fit the device: one buffer is larger than the device allows,
    /// or the whole plan (weights included, in the smallest tiles) exceeds the memory budget.
    #[error("size {width}×{height} is too large for this GPU: {}{}", limit_text(buffer, *bytes, *limit), fits_text(buffer, *fits))]
    TooLarge {
        width: u32,
        height: u32,
        /// The buffer too large for the device, or [`WHOLE_PLAN`] when the total is over budget.
        buffer: String,
        bytes: u64,
        /// The device's per-buffer limit, or the memory budget (bytes).
        limit: u64,
        /// The largest longer side (px) whose plan fits at the same aspect ratio; 0 when none does.
        fits: u32,
    },
    /// A kernel failed to compile or validate on this device (its compiler rejected a variant):
    /// callers fall back to another [`crate::Variant`] ([`crate::Variant::fallback`]).
    #[error("a GPU kernel failed to compile or validate on this device: {0}")]
    Kernel(String),
    /// A GPU validation or out-of-memory error was reported by the device.
    #[error("GPU error: {0}")]
    Gpu(String),
    /// The GPU device was lost (driver reset, browser tab reclaimed the GPU, ...).
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    /// The loss became NaN or infinite (learning rate or weights too large).
    #[error("the loss became {0} at iteration {1}; lower the learning rate or the loss weights")]
    NotFinite(String, u32),
    /// Reading or writing a file failed (native only).
    #[error("{0}")]
    Io(String),
}

/// The `buffer` of [`Error::TooLarge`] when no single buffer but the total is over the budget.
pub const WHOLE_PLAN: &str = "the whole plan";

fn mib(bytes: u64) -> String {
    let m = bytes as f64 / (1u64 << 20) as f64;
    if m >= 1024.0 {
        format!("{:.2} GiB", m / 1024.0)
    } else {
        format!("{m:.1} MiB")
    }
}

fn limit_text(buffer: &str, bytes: u64, limit: u64) -> String {
    if buffer == WHOLE_PLAN {
        format!("even in the smallest tiles it needs {} of GPU memory (weights included) but the memory budget is {}", mib(bytes), mib(limit))
    } else {
        format!("buffer `{buffer}` needs {} but the device allows at most {} per buffer", mib(bytes), mib(limit))
    }
}

fn fits_text(buffer: &str, fits: u32) -> String {
    if fits == 0 && buffer == WHOLE_PLAN {
        "; no size fits: raise the memory budget".into()
    } else if fits == 0 {
        "; no size fits on this device".into()
    } else {
        format!("; the largest size that fits is about {fits} px")
    }
}

/// Shorthand for `Result<T, stylize::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A (compiler's) multi-line error message as one line: its non-empty lines joined, the generic
/// "Validation Error" / "Caused by:" headings and source excerpts dropped, at most 400 characters.
pub fn one_line(msg: &str) -> String {
    let keep = |l: &&str| !l.is_empty() && *l != "Validation Error" && *l != "Caused by:" && !l.starts_with('│') && !l.starts_with('┌') && !l.starts_with('=');
    let line = msg.lines().map(str::trim).filter(keep).collect::<Vec<_>>().join(" — ");
    let line = if line.is_empty() { msg.trim().to_string() } else { line };
    line.chars().take(400).collect()
}
