//! The device: adapter and device selection, limits, error capture and device loss, buffer
//! creation and the one submit helper.

use super::{parse_conv, ConvAlgo, ConvPath, Dispatch, Kernels, Precision, Variant};
use crate::error::{Error, Result};
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// How to pick the adapter.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Case-insensitive substring of the adapter name to prefer (native; e.g. "llvmpipe").
    /// `None` reads the `STYLIZE_ADAPTER` environment variable natively.
    pub adapter_name: Option<String>,
    /// Which conv kernels to use; `None` picks [`ConvPath::for_adapter`] (natively the
    /// `STYLIZE_CONV` environment variable overrides it: [`parse_conv`]).
    pub conv_path: Option<ConvPath>,
    /// Whether convs run by Winograd ([`Variant::winograd`]) and with which tile
    /// ([`Variant::wino_tile`]); `None`: yes, with the engine's tile (natively the `STYLIZE_CONV`
    /// environment variable's `winograd`, `winograd2`, `winograd4` or `gemm` overrides it).
    pub winograd: Option<ConvAlgo>,
    /// Storage precision of activations and conv weights; `None` picks [`Precision::for_adapter`]
    /// (natively the `STYLIZE_PRECISION` environment variable, `f32` or `f16`, overrides it).
    pub precision: Option<Precision>,
    /// Test hook: kernels whose name contains this are compiled from broken WGSL, to exercise
    /// the fallback when a device's compiler rejects a variant. `None` reads `STYLIZE_BREAK_KERNELS`
    /// natively.
    pub break_kernels: Option<String>,
    /// Request at most this storage binding size (bytes) instead of the adapter's, as a device
    /// that binds less would (many mobile GPUs and software adapters bind 128 MiB): tests use it
    /// to run the windowed whole-image kernels at small sizes. `None` reads `STYLIZE_MAX_BINDING`
    /// natively (bytes).
    pub max_binding: Option<u64>,
}

/// The value of environment variable `name` natively (`None` when unset, and always on the web).
fn env_override(name: &str) -> Option<String> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::env::var(name).ok()
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = name;
        None
    }
}

impl GpuOptions {
    /// These options with what they leave open read from the environment (natively):
    /// `STYLIZE_ADAPTER`, `STYLIZE_CONV`, `STYLIZE_PRECISION`, `STYLIZE_BREAK_KERNELS`,
    /// `STYLIZE_MAX_BINDING`.
    fn with_environment(self) -> Result<GpuOptions> {
        let parsed = |name: &str| -> Result<Option<u64>> {
            env_override(name).map(|v| v.trim().parse::<u64>().map_err(|_| Error::Settings(format!("{name}={v:?} is not a byte count")))).transpose()
        };
        let (env_path, env_winograd) = match env_override("STYLIZE_CONV") {
            Some(v) => parse_conv(&v)?,
            None => (None, None),
        };
        Ok(GpuOptions {
            adapter_name: self.adapter_name.or_else(|| env_override("STYLIZE_ADAPTER")),
            conv_path: self.conv_path.or(env_path),
            winograd: self.winograd.or(env_winograd),
            precision: match self.precision {
                Some(p) => Some(p),
                None => env_override("STYLIZE_PRECISION").map(|v| Precision::parse(&v)).transpose()?,
            },
            break_kernels: self.break_kernels.or_else(|| env_override("STYLIZE_BREAK_KERNELS")),
            max_binding: match self.max_binding {
                Some(b) => Some(b),
                None => parsed("STYLIZE_MAX_BINDING")?,
            },
        })
    }
}

/// The adapter whose name contains `name` (case-insensitive; native only), else the
/// high-performance one.
async fn pick_adapter(instance: &wgpu::Instance, name: Option<&str>) -> Result<wgpu::Adapter> {
    #[cfg(not(target_arch = "wasm32"))]
    if let Some(name) = name {
        let name = name.to_lowercase();
        let all = instance.enumerate_adapters(wgpu::Backends::all()).await;
        let names: Vec<String> = all.iter().map(|a| a.get_info().name).collect();
        return all
            .into_iter()
            .find(|a| a.get_info().name.to_lowercase().contains(&name))
            .ok_or_else(|| Error::NoAdapter(format!("no adapter matches STYLIZE_ADAPTER={name:?}; available: {names:?}")));
    }
    let _ = name;
    instance.request_adapter(&wgpu::RequestAdapterOptions { power_preference: wgpu::PowerPreference::HighPerformance, ..Default::default() }).await.map_err(|e| {
        Error::NoAdapter(format!(
            "{e}. Natively, install a Vulkan, Metal or DX12 driver (on Linux without a GPU: \
                 Mesa's lavapipe, package mesa-vulkan-drivers); in a browser, use one with WebGPU \
                 (Chrome/Edge 113+, Safari 26+, Firefox 141+ on Windows)"
        ))
    })
}

/// The limits to request: the adapter's buffer sizes (the storage binding capped at `cap` bytes,
/// in whole 256-byte blocks, at least 64 KiB: a binding smaller than that holds no layer), the
/// defaults otherwise.
fn limits_for(adapter: &wgpu::Limits, cap: Option<u64>) -> wgpu::Limits {
    let binding = cap.map_or(u64::MAX, |c| c.max(1 << 16) / 256 * 256);
    let defaults = wgpu::Limits::default();
    wgpu::Limits {
        max_storage_buffer_binding_size: adapter.max_storage_buffer_binding_size.min(binding),
        max_buffer_size: adapter.max_buffer_size,
        max_storage_buffers_per_shader_stage: defaults.max_storage_buffers_per_shader_stage.min(adapter.max_storage_buffers_per_shader_stage),
        ..defaults
    }
}

/// Where the device's first uncaptured error and its loss are kept (checked by [`Gpu::check`]).
type Slot = Arc<Mutex<Option<String>>>;

/// Captures `device`'s first uncaptured error and its loss.
fn capture_errors(device: &wgpu::Device) -> (Slot, Slot) {
    let (error, lost): (Slot, Slot) = Default::default();
    let first = error.clone();
    device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
        let mut slot = first.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e.to_string());
        }
    }));
    let gone = lost.clone();
    device.set_device_lost_callback(move |reason, msg| {
        *gone.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{reason:?}: {msg}"));
    });
    (error, lost)
}

/// The device, its queue and everything made once per device.
pub struct Gpu {
    /// The instance the adapter came from (surfaces for the preview are made from it).
    pub instance: wgpu::Instance,
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// Adapter name, backend, type and driver.
    pub adapter_info: wgpu::AdapterInfo,
    /// The conv implementation plans use on this device.
    pub conv_path: ConvPath,
    /// Whether plans run convs by Winograd ([`Variant::winograd`]), and the forced tile.
    pub winograd: ConvAlgo,
    /// How plans store activations and conv weights on this device.
    pub precision: Precision,
    /// Limits granted to the device (what plans are checked against).
    pub limits: wgpu::Limits,
    /// Features enabled on the device.
    pub features: wgpu::Features,
    /// The adapter's own limits (what a bigger request could get).
    pub adapter_limits: wgpu::Limits,
    pub kernels: Kernels,
    error: Arc<Mutex<Option<String>>>,
    lost: Arc<Mutex<Option<String>>>,
    /// Bytes of every storage buffer created so far ([`Self::storage_bytes_created`]).
    created: std::sync::atomic::AtomicU64,
    /// Bytes released explicitly ([`Self::release`]), and the most ever held at once
    /// ([`Self::storage_bytes_held`], [`Self::storage_peak_since`]).
    released: std::sync::atomic::AtomicU64,
    peak: std::sync::atomic::AtomicU64,
}

impl Gpu {
    /// Opens the best available adapter (high performance; natively the `STYLIZE_ADAPTER` name
    /// override), requests WebGPU's default limits raised to the adapter's buffer-size limits (the binding
    /// size capped by [`GpuOptions::max_binding`]) and
    /// timestamp queries and `shader-f16` when offered, installs error and device-lost handlers,
    /// and picks the conv path and storage precision (`opts`, else the `STYLIZE_CONV` /
    /// `STYLIZE_PRECISION` environment variables natively, else the adapter's type). Kernels are
    /// compiled on first use. Fails with [`Error::NoAdapter`], [`Error::Device`], or
    /// [`Error::Settings`] (a bad override, or f16 on an adapter without `shader-f16`).
    pub async fn new(opts: &GpuOptions) -> Result<Gpu> {
        let opts = opts.clone().with_environment()?;
        #[cfg(not(target_arch = "wasm32"))]
        let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        #[cfg(target_arch = "wasm32")]
        let desc = wgpu::InstanceDescriptor::new_without_display_handle();
        let instance = wgpu::Instance::new(desc);
        let adapter = pick_adapter(&instance, opts.adapter_name.as_deref()).await?;
        let adapter_limits = adapter.limits();
        let limits = limits_for(&adapter_limits, opts.max_binding);
        let features = adapter.features() & (wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SHADER_F16);
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor { label: Some("stylize"), required_features: features, required_limits: limits.clone(), ..Default::default() })
            .await
            .map_err(|e| Error::Device(e.to_string()))?;
        let (error, lost) = capture_errors(&device);
        let adapter_info = adapter.get_info();
        let conv_path = opts.conv_path.unwrap_or_else(|| ConvPath::for_adapter(&adapter_info));
        let has_f16 = features.contains(wgpu::Features::SHADER_F16);
        if opts.precision == Some(Precision::F16) && !has_f16 {
            return Err(Error::Settings("f16 storage needs the adapter feature shader-f16, which this adapter lacks".into()));
        }
        let precision = opts.precision.unwrap_or_else(|| Precision::for_adapter(&adapter_info, features));
        let kernels = Kernels::new(&device, has_f16, opts.break_kernels.filter(|s| !s.is_empty()));
        Ok(Gpu {
            instance,
            adapter,
            device,
            queue,
            adapter_info,
            conv_path,
            winograd: opts.winograd.unwrap_or((true, None)),
            precision,
            limits,
            features,
            adapter_limits,
            kernels,
            error,
            lost,
            created: Default::default(),
            released: Default::default(),
            peak: Default::default(),
        })
    }

    /// The adapter in one line: name (backend, device type; conv path, storage), what a result's
    /// record names ([`crate::record::RunRecord::adapter`]).
    pub fn summary(&self) -> String {
        let i = &self.adapter_info;
        // Browsers do not reveal adapter names.
        let name = if i.name.is_empty() { "WebGPU adapter".to_string() } else { i.name.clone() };
        format!("{} ({:?}, {:?}; conv path {}, storage {:?})", name, i.backend, i.device_type, self.variant().conv_name(), self.precision)
    }

    /// A human-readable description of the adapter, the granted limits and features.
    pub fn describe(&self) -> String {
        let i = &self.adapter_info;
        let l = &self.limits;
        format!(
            "adapter: {}\ndriver: {} {}\nlimits: max_buffer_size {} B, max_storage_buffer_binding_size {} B, \
             max_storage_buffers_per_shader_stage {}, max_compute_workgroup_storage_size {} B, \
             max_compute_invocations_per_workgroup {}, max_compute_workgroups_per_dimension {}\n\
             adapter offers: max_buffer_size {} B, max_storage_buffer_binding_size {} B, features {:?}\nfeatures: {:?}",
            self.summary(),
            i.driver,
            i.driver_info,
            l.max_buffer_size,
            l.max_storage_buffer_binding_size,
            l.max_storage_buffers_per_shader_stage,
            l.max_compute_workgroup_storage_size,
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroups_per_dimension,
            self.adapter_limits.max_buffer_size,
            self.adapter_limits.max_storage_buffer_binding_size,
            self.adapter.features(),
            self.features,
        )
    }

    /// Largest storage buffer (bytes) a kernel binds whole: the smaller of the binding and buffer
    /// limits.
    pub fn max_storage_bytes(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size)
    }

    /// Largest buffer (bytes) the device creates: the whole-image buffers bound in windows
    /// ([`crate::kernels::window`]) may be this large.
    pub fn max_buffer_bytes(&self) -> u64 {
        self.limits.max_buffer_size
    }

    /// Alignment (bytes) of a storage binding's offset: windows start on multiples of it.
    pub fn binding_alignment(&self) -> u64 {
        self.limits.min_storage_buffer_offset_alignment as u64
    }

    /// Bytes of every storage buffer created on this device so far (as requested: each buffer
    /// is rounded up to 4 bytes), for checking memory plans against what is created.
    pub fn storage_bytes_created(&self) -> u64 {
        self.created.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bytes of storage buffers created and not released with [`Self::release`] (buffers merely
    /// dropped still count).
    pub fn storage_bytes_held(&self) -> u64 {
        self.storage_bytes_created() - self.released.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Starts measuring the most storage held at once: returns the bytes held now, the baseline
    /// for [`Self::storage_peak_since`].
    pub fn reset_storage_peak(&self) -> u64 {
        let held = self.storage_bytes_held();
        self.peak.store(held, std::sync::atomic::Ordering::Relaxed);
        held
    }

    /// The most storage held at once since [`Self::reset_storage_peak`] returned `baseline`,
    /// above it (bytes).
    pub fn storage_peak_since(&self, baseline: u64) -> u64 {
        self.peak.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(baseline)
    }

    /// Destroys `buffer` (its memory is reclaimed once the work submitted with it is done) and
    /// counts its bytes as released. Using it afterwards is a validation error.
    pub fn release(&self, buffer: &wgpu::Buffer) {
        self.released.fetch_add(buffer.size(), std::sync::atomic::Ordering::Relaxed);
        buffer.destroy();
    }

    /// Runs `make` (which creates GPU objects) inside a validation error scope: a kernel that fails
    /// to compile or validate on this device becomes [`Error::Kernel`] at once (instead of an
    /// error at the first submission), so the caller can fall back to another [`Variant`].
    pub async fn validated<T>(&self, make: impl FnOnce() -> Result<T>) -> Result<T> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let made = make();
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.device.poll(wgpu::PollType::Poll);
        if let Some(e) = scope.pop().await {
            return Err(Error::Kernel(crate::error::one_line(&e.to_string())));
        }
        made
    }

    /// Returns the first GPU error or device loss seen since the device was created, if any.
    pub fn check(&self) -> Result<()> {
        if let Some(msg) = self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(Error::DeviceLost(msg));
        }
        if let Some(msg) = self.error.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(Error::Gpu(msg));
        }
        Ok(())
    }

    /// The conv path, storage precision and conv algorithm plans use on this device.
    pub fn variant(&self) -> Variant {
        Variant { path: self.conv_path, precision: self.precision, winograd: self.winograd.0, wino_tile: self.winograd.1 }
    }

    /// Whether the device has `shader-f16` enabled (so [`Precision::F16`] kernels can run).
    pub fn has_f16(&self) -> bool {
        self.features.contains(wgpu::Features::SHADER_F16)
    }

    /// Creates a storage buffer holding activation values `data` stored in `precision`.
    pub fn act_init(&self, label: &str, precision: Precision, data: &[f32]) -> wgpu::Buffer {
        let mut bytes = precision.act_bytes(data);
        bytes.resize(bytes.len().max(4).next_multiple_of(4), 0);
        self.storage_init(label, &bytes)
    }

    /// Whether the device supports timestamp queries.
    pub fn has_timestamps(&self) -> bool {
        self.features.contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// Creates a zero-initialised storage buffer of `bytes` bytes (at least 4), usable as a copy
    /// source and destination. The caller must have checked `bytes` against [`Self::max_storage_bytes`].
    pub fn storage(&self, label: &str, bytes: u64) -> wgpu::Buffer {
        self.created.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
        self.peak.fetch_max(self.storage_bytes_held(), std::sync::atomic::Ordering::Relaxed);
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(4).next_multiple_of(4),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Creates a storage buffer holding `data`.
    pub fn storage_init<T: bytemuck::Pod>(&self, label: &str, data: &[T]) -> wgpu::Buffer {
        if data.is_empty() {
            return self.storage(label, 4);
        }
        self.created.fetch_add(std::mem::size_of_val(data) as u64, std::sync::atomic::Ordering::Relaxed);
        self.peak.fetch_max(self.storage_bytes_held(), std::sync::atomic::Ordering::Relaxed);
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        })
    }

    /// Encodes `dispatches` in order into one compute pass, lets `then` record more commands
    /// (copies) after the pass, and submits the command buffer. Returns at once.
    pub fn submit<'a>(&self, dispatches: impl IntoIterator<Item = &'a Dispatch>, then: impl FnOnce(&mut wgpu::CommandEncoder)) {
        let mut enc = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for d in dispatches {
                d.encode(&mut pass);
            }
        }
        then(&mut enc);
        self.queue.submit([enc.finish()]);
    }

    /// Submits the dispatches in one compute pass ([`Self::submit`] with nothing after it).
    pub fn run(&self, dispatches: &[&Dispatch]) {
        self.submit(dispatches.iter().copied(), |_| {});
    }
}
