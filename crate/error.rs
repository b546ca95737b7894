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
    /// The requested size needs a buffer larger than the device allows.
    #[error(
        "size {width}×{height} is too large for this GPU: buffer `{buffer}` needs {bytes} bytes but the \
         device allows at most {limit} bytes per buffer; the largest size that fits is about {fits} px"
    )]
    TooLarge {
        width: u32,
        height: u32,
        buffer: String,
        bytes: u64,
        limit: u64,
        /// The largest longer side (px) whose plan fits the limit at the same aspect ratio.
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

/// Shorthand for `Result<T, stylize::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
