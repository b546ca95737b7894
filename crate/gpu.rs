//! GPU context: adapter and device selection, limits, error capture, compiled kernels, buffer
//! helpers and the one asynchronous readback path used natively and on the web.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// How to pick the adapter.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Case-insensitive substring of the adapter name to prefer (native; e.g. "llvmpipe").
    /// `None` reads the `STYLIZE_ADAPTER` environment variable natively.
    pub adapter_name: Option<String>,
    /// Which conv implementation to use; `None` picks [`ConvPath::for_adapter`] (natively the
    /// `STYLIZE_CONV` environment variable, `tiled` or `direct`, overrides it).
    pub conv_path: Option<ConvPath>,
    /// Storage precision of activations and conv weights; `None` picks [`Precision::for_adapter`]
    /// (natively the `STYLIZE_PRECISION` environment variable, `f32` or `f16`, overrides it).
    pub precision: Option<Precision>,
}

/// The two implementations of the 3×3 conv GEMM in `shaders/conv.wgsl` (same results, same
/// bindings; the header of that file explains the cost models behind them). The same choice
/// selects between the tiled and direct Gram-partial and style-gradient kernels (`gram.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvPath {
    /// Tiled through workgroup memory (entry point `main`): what GPUs want.
    Tiled,
    /// Register-tiled straight from storage buffers, no workgroup memory or barriers (entry point
    /// `direct`): what CPU adapters (SwiftShader, lavapipe) want.
    Direct,
}

impl ConvPath {
    /// `Direct` on CPU adapters (browsers report software/fallback adapters as CPUs), else `Tiled`.
    pub fn for_adapter(info: &wgpu::AdapterInfo) -> ConvPath {
        if info.device_type == wgpu::DeviceType::Cpu {
            ConvPath::Direct
        } else {
            ConvPath::Tiled
        }
    }

    /// Parses `tiled` or `direct` (case-insensitive). Fails with [`Error::Settings`].
    pub fn parse(s: &str) -> Result<ConvPath> {
        match s.to_ascii_lowercase().as_str() {
            "tiled" => Ok(ConvPath::Tiled),
            "direct" => Ok(ConvPath::Direct),
            _ => Err(Error::Settings(format!("conv path must be `tiled` or `direct`, not {s:?}"))),
        }
    }
}

/// How activations (every layer's output, the content target, the network's copy of its input)
/// and conv weights are stored on the GPU. Arithmetic and accumulation are f32 either way, and
/// gradients, Grams, losses, the image and Adam's moments are always f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// 32-bit floats everywhere.
    F32,
    /// IEEE half floats (needs the adapter's `shader-f16`): half the memory and bandwidth of the
    /// activations and weights. Activations are stored times [`F16_ACT_STORE`] (1/32, exact) so the
    /// largest VGG activations (tens of thousands on the 0..255 scale) stay far from f16's 65,504;
    /// stores clamp to ±65,504 instead of overflowing to infinity.
    F16,
}

/// Factor activations are multiplied by when stored as f16 (and divided by when loaded).
pub const F16_ACT_STORE: f32 = 1.0 / 32.0;

/// An activation as stored in f16: scaled, clamped to f16's range, rounded to nearest (the CPU
/// twin of `to_act` in the f16 prelude).
fn act_to_f16(v: f32) -> half::f16 {
    half::f16::from_f32((v * F16_ACT_STORE).clamp(-65504.0, 65504.0))
}

/// A stored f16 activation's value (the CPU twin of a load times `ACT_LOAD`).
fn f16_to_act(h: half::f16) -> f32 {
    h.to_f32() / F16_ACT_STORE
}

impl Precision {
    /// `F16` when the adapter offers `shader-f16` and is a real GPU (memory bandwidth is what it
    /// saves), `F32` otherwise (CPU adapters: see BENCHMARKS.md, change 7).
    pub fn for_adapter(info: &wgpu::AdapterInfo, features: wgpu::Features) -> Precision {
        if features.contains(wgpu::Features::SHADER_F16) && info.device_type != wgpu::DeviceType::Cpu {
            Precision::F16
        } else {
            Precision::F32
        }
    }

    /// Parses `f32` or `f16` (case-insensitive). Fails with [`Error::Settings`].
    pub fn parse(s: &str) -> Result<Precision> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            _ => Err(Error::Settings(format!("precision must be `f32` or `f16`, not {s:?}"))),
        }
    }

    /// Bytes per stored activation or weight element: 4 or 2.
    pub fn bytes(self) -> u64 {
        match self {
            Precision::F32 => 4,
            Precision::F16 => 2,
        }
    }

    /// The value the GPU sees after storing `v` as an activation and loading it again (the CPU
    /// model of the round trip, for references and tests).
    pub fn round_act(self, v: f32) -> f32 {
        match self {
            Precision::F32 => v,
            Precision::F16 => f16_to_act(act_to_f16(v)),
        }
    }

    /// Activation values as stored bytes (f32, or scaled f16).
    pub fn act_bytes(self, data: &[f32]) -> Vec<u8> {
        match self {
            Precision::F32 => bytemuck::cast_slice(data).to_vec(),
            Precision::F16 => {
                let h: Vec<half::f16> = data.iter().map(|&v| act_to_f16(v)).collect();
                bytemuck::cast_slice(&h).to_vec()
            }
        }
    }

    /// Stored activation bytes back to values (inverse of [`Self::act_bytes`] up to rounding).
    pub fn act_values(self, bytes: &[u8]) -> Vec<f32> {
        match self {
            Precision::F32 => bytemuck::pod_collect_to_vec(bytes),
            Precision::F16 => {
                let h: Vec<half::f16> = bytemuck::pod_collect_to_vec(bytes);
                h.into_iter().map(f16_to_act).collect()
            }
        }
    }

    /// The value the GPU sees for conv weight `v` stored in this precision.
    pub fn round_weight(self, v: f32) -> f32 {
        match self {
            Precision::F32 => v,
            Precision::F16 => half::f16::from_f32(v).to_f32(),
        }
    }

    /// Conv weights as stored bytes (f32, or f16 unscaled).
    pub fn weight_bytes(self, data: &[f32]) -> Vec<u8> {
        match self {
            Precision::F32 => bytemuck::cast_slice(data).to_vec(),
            Precision::F16 => {
                let h: Vec<half::f16> = data.iter().map(|&v| half::f16::from_f32(v)).collect();
                bytemuck::cast_slice(&h).to_vec()
            }
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Precision::F32 => "",
            Precision::F16 => "_f16",
        }
    }
}

/// The WGSL text prepended to a kernel file for a storage precision: the `act` (activation
/// element) and `wt4` (four conv weights) types, `ACT_LOAD` (multiply a loaded activation by it)
/// and `to_act` (scale, clamp and convert a value for storing). `conv` adds the conv kernel's
/// `conv_io` type (its input and output: activations forward, f32 gradients backward), `IO_LOAD`
/// and `store_io`: `Some(false)` forward, `Some(true)` backward.
pub fn prelude(precision: Precision, conv: Option<bool>) -> String {
    let mut s = String::from("// prelude (stylize::gpu::prelude)\n");
    match precision {
        Precision::F32 => s.push_str(
            "alias act = f32;\nalias wt4 = vec4<f32>;\nconst ACT_LOAD: f32 = 1.0;\nfn to_act(v: f32) -> act { return v; }\n",
        ),
        Precision::F16 => s.push_str(&format!(
            "enable f16;\nalias act = f16;\nalias wt4 = vec4<f16>;\nconst ACT_LOAD: f32 = {};\n\
             fn to_act(v: f32) -> act {{ return act(clamp(v * {}, -65504.0, 65504.0)); }}\n",
            1.0 / F16_ACT_STORE,
            F16_ACT_STORE
        )),
    }
    match conv {
        Some(false) => s.push_str("alias conv_io = act;\nconst IO_LOAD: f32 = ACT_LOAD;\nfn store_io(v: f32) -> conv_io { return to_act(v); }\n"),
        Some(true) => s.push_str("alias conv_io = f32;\nconst IO_LOAD: f32 = 1.0;\nfn store_io(v: f32) -> conv_io { return v; }\n"),
        None => {}
    }
    s
}

/// The implementation choices a plan is built with: conv/Gram kernels and storage precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Variant {
    /// Conv, Gram-partial and style-gradient implementation.
    pub path: ConvPath,
    /// Storage of activations and conv weights.
    pub precision: Precision,
}

/// One compiled variant of the conv kernel (see [`Kernels::conv`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvTile {
    /// Tiled, 64×64 output tile.
    Wide,
    /// Tiled, 64×16 output tile (layers of few pixels).
    Narrow,
    /// Direct, with this many invocations per workgroup (4, 16 or 64).
    Direct(u32),
}

/// What a binding of a kernel is, for building explicit bind group layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bind {
    /// `var<uniform>` parameters.
    Uniform,
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    Write,
}

/// One compiled compute pipeline with its explicit bind group layout.
pub struct Kernel {
    /// Entry point and variant (e.g. `conv_forward_direct16_f16`), for labels and timing tables.
    pub name: String,
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    bindings: Vec<(u32, Bind)>,
}

/// One recorded dispatch: a pipeline, its bind group (made once) and a workgroup grid.
/// Plans are lists of these, encoded in order every iteration.
#[derive(Clone)]
pub struct Dispatch {
    /// What it computes (e.g. `conv3_2 fwd`), for profiling.
    pub label: String,
    /// Kernel name ([`Kernel::name`]).
    pub kernel: String,
    /// Multiply-accumulates (or comparable operations) it performs, for GFLOP/s.
    pub flops: f64,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
}

impl Dispatch {
    /// Records the dispatch into a compute pass.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups[0], self.groups[1], self.groups[2]);
    }

    /// The workgroup grid.
    pub fn groups(&self) -> [u32; 3] {
        self.groups
    }
}

/// Largest workgroup count per dispatch dimension allowed by WebGPU.
pub const MAX_GROUPS_PER_DIM: u32 = 65_535;

/// Splits `count` workgroups over x (and y beyond 65,535) so element-wise kernels index with
/// `x + y · num_workgroups.x · 256`. Returns `[x, y, 1]`.
pub fn grid_1d(count: u32) -> [u32; 3] {
    let count = count.max(1);
    if count <= MAX_GROUPS_PER_DIM {
        [count, 1, 1]
    } else {
        let y = count.div_ceil(MAX_GROUPS_PER_DIM);
        [count.div_ceil(y), y, 1]
    }
}

/// Grid for `count` 256-wide element-wise invocations.
pub fn grid_elems(count: usize) -> [u32; 3] {
    grid_1d((count as u32).div_ceil(256))
}

/// Grid for tiled kernels: `tiles_n` tiles folded over x and z, `tiles_m` over y.
pub fn grid_tiles(tiles_n: u32, tiles_m: u32) -> [u32; 3] {
    let g = grid_1d(tiles_n);
    [g[0], tiles_m.max(1), g[1]]
}

/// All kernels of the engine: each compiled on first use (a device compiles only the variants
/// its plans use — conv tiles and directions, pooling, Gram, style gradient and content loss per
/// storage [`Precision`]) and cached by name; shader modules are cached per (file, prelude).
pub struct Kernels {
    device: wgpu::Device,
    has_f16: bool,
    /// Shader modules by (file index in [`SHADERS`], prelude).
    modules: Mutex<HashMap<(usize, String), wgpu::ShaderModule>>,
    /// Kernels by name.
    kernels: Mutex<HashMap<String, Arc<Kernel>>>,
}

/// The WGSL sources, one file per kernel family: (file name, source).
pub const SHADERS: [(&str, &str); 6] = [
    ("conv.wgsl", include_str!("../shaders/conv.wgsl")),
    ("pool.wgsl", include_str!("../shaders/pool.wgsl")),
    ("gram.wgsl", include_str!("../shaders/gram.wgsl")),
    ("loss.wgsl", include_str!("../shaders/loss.wgsl")),
    ("adam.wgsl", include_str!("../shaders/adam.wgsl")),
    ("image.wgsl", include_str!("../shaders/image.wgsl")),
];

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
}

impl Gpu {
    /// Opens the best available adapter (high performance; natively the `STYLIZE_ADAPTER` name
    /// override), requests WebGPU's default limits raised to the adapter's buffer-size limits and
    /// timestamp queries and `shader-f16` when offered, installs error and device-lost handlers,
    /// and picks the conv path and storage precision (`opts`, else the `STYLIZE_CONV` /
    /// `STYLIZE_PRECISION` environment variables natively, else the adapter's type). Kernels are
    /// compiled on first use. Fails with [`Error::NoAdapter`], [`Error::Device`], or
    /// [`Error::Settings`] (a bad override, or f16 on an adapter without `shader-f16`).
    pub async fn new(opts: &GpuOptions) -> Result<Gpu> {
        #[cfg(not(target_arch = "wasm32"))]
        let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        #[cfg(target_arch = "wasm32")]
        let desc = wgpu::InstanceDescriptor::new_without_display_handle();
        let instance = wgpu::Instance::new(desc);
        let wanted = opts.adapter_name.clone().or_else(|| env_override("STYLIZE_ADAPTER"));
        let mut adapter = None;
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(name) = &wanted {
            let name = name.to_lowercase();
            let all = instance.enumerate_adapters(wgpu::Backends::all()).await;
            let names: Vec<String> = all.iter().map(|a| a.get_info().name).collect();
            adapter = all.into_iter().find(|a| a.get_info().name.to_lowercase().contains(&name));
            if adapter.is_none() {
                return Err(Error::NoAdapter(format!(
                    "no adapter matches STYLIZE_ADAPTER={name:?}; available: {names:?}"
                )));
            }
        }
        let _ = &wanted;
        if adapter.is_none() {
            adapter = Some(
                instance
                    .request_adapter(&wgpu::RequestAdapterOptions {
                        power_preference: wgpu::PowerPreference::HighPerformance,
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| {
                        Error::NoAdapter(format!(
                            "{e}. Natively, install a Vulkan, Metal or DX12 driver (on Linux without a GPU: \
                             Mesa's lavapipe, package mesa-vulkan-drivers); in a browser, use one with WebGPU \
                             (Chrome/Edge 113+, Safari 26+, Firefox 141+ on Windows)"
                        ))
                    })?,
            );
        }
        let adapter = adapter.expect("set above");
        let adapter_limits = adapter.limits();
        let mut limits = wgpu::Limits::default();
        limits.max_storage_buffer_binding_size = adapter_limits.max_storage_buffer_binding_size;
        limits.max_buffer_size = adapter_limits.max_buffer_size;
        limits.max_storage_buffers_per_shader_stage =
            limits.max_storage_buffers_per_shader_stage.min(adapter_limits.max_storage_buffers_per_shader_stage);
        let features = adapter.features() & (wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SHADER_F16);
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("stylize"),
                required_features: features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Device(e.to_string()))?;

        let error = Arc::new(Mutex::new(None::<String>));
        let lost = Arc::new(Mutex::new(None::<String>));
        {
            let error = error.clone();
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                let mut slot = error.lock().unwrap_or_else(|p| p.into_inner());
                if slot.is_none() {
                    *slot = Some(e.to_string());
                }
            }));
            let lost = lost.clone();
            device.set_device_lost_callback(move |reason, msg| {
                *lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{reason:?}: {msg}"));
            });
        }
        let adapter_info = adapter.get_info();
        let conv_path = match (opts.conv_path, env_override("STYLIZE_CONV")) {
            (Some(p), _) => p,
            (None, Some(v)) => ConvPath::parse(&v)?,
            (None, None) => ConvPath::for_adapter(&adapter_info),
        };
        let precision = match (opts.precision, env_override("STYLIZE_PRECISION")) {
            (Some(p), _) => Some(p),
            (None, Some(v)) => Some(Precision::parse(&v)?),
            (None, None) => None,
        };
        let has_f16 = features.contains(wgpu::Features::SHADER_F16);
        if precision == Some(Precision::F16) && !has_f16 {
            return Err(Error::Settings("f16 storage needs the adapter feature shader-f16, which this adapter lacks".into()));
        }
        let precision = precision.unwrap_or_else(|| Precision::for_adapter(&adapter_info, features));
        let kernels = Kernels::new(&device, has_f16);
        Ok(Gpu {
            instance,
            adapter: adapter.clone(),
            device,
            queue,
            adapter_info,
            conv_path,
            precision,
            limits,
            features,
            adapter_limits,
            kernels,
            error,
            lost,
        })
    }

    /// A human-readable description of the adapter, the granted limits and features.
    pub fn describe(&self) -> String {
        let i = &self.adapter_info;
        let l = &self.limits;
        // Browsers do not reveal adapter names.
        let name = if i.name.is_empty() { "WebGPU adapter".to_string() } else { i.name.clone() };
        format!(
            "adapter: {} ({:?}, {:?}; conv path {:?}, storage {:?})\ndriver: {} {}\nlimits: max_buffer_size {} B, max_storage_buffer_binding_size {} B, \
             max_storage_buffers_per_shader_stage {}, max_compute_workgroup_storage_size {} B, \
             max_compute_invocations_per_workgroup {}, max_compute_workgroups_per_dimension {}\n\
             adapter offers: max_buffer_size {} B, max_storage_buffer_binding_size {} B, features {:?}\nfeatures: {:?}",
            name,
            i.backend,
            i.device_type,
            self.conv_path,
            self.precision,
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

    /// Largest storage buffer (bytes) a plan may create: the smaller of the binding and buffer limits.
    pub fn max_storage_bytes(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size)
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

    /// The conv path and storage precision plans use on this device.
    pub fn variant(&self) -> Variant {
        Variant { path: self.conv_path, precision: self.precision }
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

    /// Reads `len` activation values stored in `precision` from `src` (as f32 values).
    pub async fn read_act(&self, src: &wgpu::Buffer, precision: Precision, len: usize) -> Result<Vec<f32>> {
        let bytes = len as u64 * precision.bytes();
        let bytes = self.read_bytes(src, 0, bytes.next_multiple_of(4)).await?;
        Ok(precision.act_values(&bytes[..len * precision.bytes() as usize]))
    }

    /// Whether the device supports timestamp queries.
    pub fn has_timestamps(&self) -> bool {
        self.features.contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// Creates a zero-initialised storage buffer of `bytes` bytes (at least 4), usable as a copy
    /// source and destination. The caller must have checked `bytes` against [`Self::max_storage_bytes`].
    pub fn storage(&self, label: &str, bytes: u64) -> wgpu::Buffer {
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
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        })
    }

    /// Copies `bytes` bytes from `src` at `offset` into a fresh staging buffer and reads them back.
    /// Asynchronous on every platform: natively it polls the device until the map completes; on the
    /// web it yields to the browser's event loop. Fails on a GPU error or device loss.
    pub async fn read_bytes(&self, src: &wgpu::Buffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(src, offset, &staging, 0, bytes);
        self.queue.submit([enc.finish()]);
        let (tx, rx) = futures_channel::oneshot::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
        let mapped = rx.await;
        self.check()?;
        match mapped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Gpu(format!("reading back a buffer: {e}"))),
            Err(_) => return Err(Error::DeviceLost("a buffer readback was abandoned".into())),
        }
        let data = staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| Error::Gpu(format!("mapping a buffer: {e}")))?
            .to_vec();
        staging.unmap();
        Ok(data)
    }

    /// Reads `len` f32 values from `src`, starting at element `offset`.
    pub async fn read_f32(&self, src: &wgpu::Buffer, offset: usize, len: usize) -> Result<Vec<f32>> {
        let bytes = self.read_bytes(src, offset as u64 * 4, len as u64 * 4).await?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// Submits the dispatches in one compute pass.
    pub fn run(&self, dispatches: &[&Dispatch]) {
        let mut enc = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for d in dispatches {
                d.encode(&mut pass);
            }
        }
        self.queue.submit([enc.finish()]);
    }
}

/// Index of each kernel file in [`SHADERS`].
const CONV: usize = 0;
const POOL: usize = 1;
const GRAM: usize = 2;
const LOSS: usize = 3;
const ADAM: usize = 4;
const IMAGE: usize = 5;

/// Compiles `SHADERS[file]` with `prelude` prepended.
fn compile(device: &wgpu::Device, file: usize, prelude: &str) -> wgpu::ShaderModule {
    device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(SHADERS[file].0),
        source: wgpu::ShaderSource::Wgsl(format!("{prelude}{}", SHADERS[file].1).into()),
    })
}

/// Every (file index in [`SHADERS`], prelude) the engine compiles with `f16` available: what the
/// naga validation test checks.
pub fn shader_variants(with_f16: bool) -> Vec<(usize, String)> {
    let mut precisions = vec![Precision::F32];
    if with_f16 {
        precisions.push(Precision::F16);
    }
    let mut v = Vec::new();
    for &p in &precisions {
        v.push((CONV, prelude(p, Some(false))));
        v.push((CONV, prelude(p, Some(true))));
        for file in [POOL, GRAM, LOSS, ADAM, IMAGE] {
            v.push((file, prelude(p, None)));
        }
    }
    v
}

/// Bindings 0, 1, 2, … of the given kinds.
fn seq(kinds: &[Bind]) -> Vec<(u32, Bind)> {
    kinds.iter().enumerate().map(|(i, &b)| (i as u32, b)).collect()
}

impl Kernels {
    fn new(device: &wgpu::Device, has_f16: bool) -> Kernels {
        Kernels { device: device.clone(), has_f16, modules: Mutex::new(HashMap::new()), kernels: Mutex::new(HashMap::new()) }
    }

    /// The kernel `name`, compiled on first use from `SHADERS[file]` with the prelude for
    /// `precision` (and conv direction `conv`), entry point `entry`, override `constants`.
    /// Panics if `precision` is F16 on a device without `shader-f16` (plans never ask for that).
    #[allow(clippy::too_many_arguments)] // one call per kernel family; each argument is a key part
    fn get(
        &self,
        name: String,
        file: usize,
        precision: Precision,
        conv: Option<bool>,
        entry: &'static str,
        constants: &[(&str, f64)],
        bindings: &[(u32, Bind)],
    ) -> Arc<Kernel> {
        assert!(precision == Precision::F32 || self.has_f16, "f16 kernels need a device with shader-f16");
        let mut kernels = self.kernels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = kernels.get(&name) {
            return k.clone();
        }
        let pre = prelude(precision, conv);
        let module = {
            let mut modules = self.modules.lock().unwrap_or_else(|p| p.into_inner());
            modules.entry((file, pre.clone())).or_insert_with(|| compile(&self.device, file, &pre)).clone()
        };
        let k = Arc::new(Kernel::new(&self.device, &module, name.clone(), entry, constants, bindings));
        kernels.insert(name, k.clone());
        k
    }

    /// A kernel that touches no activations (f32 prelude), named after its entry point.
    fn plain(&self, file: usize, entry: &'static str, bindings: &[(u32, Bind)]) -> Arc<Kernel> {
        self.get(entry.to_string(), file, Precision::F32, None, entry, &[], bindings)
    }

    /// `gram_finish` (`shaders/gram.wgsl`).
    pub fn gram_finish(&self) -> Arc<Kernel> {
        self.plain(GRAM, "gram_finish", &seq(&[Bind::Uniform, Bind::Read, Bind::Write]))
    }

    /// `style_diff` (`shaders/gram.wgsl`).
    pub fn style_diff(&self) -> Arc<Kernel> {
        use Bind::*;
        self.plain(GRAM, "style_diff", &seq(&[Uniform, Read, Write, Read, Write]))
    }

    /// `tv_loss` (`shaders/loss.wgsl`).
    pub fn tv_loss(&self) -> Arc<Kernel> {
        use Bind::*;
        self.plain(LOSS, "tv_loss", &[(0, Uniform), (1, Read), (2, Write), (4, Write)])
    }

    /// `reduce_losses` (`shaders/loss.wgsl`).
    pub fn reduce_losses(&self) -> Arc<Kernel> {
        self.plain(LOSS, "reduce_losses", &seq(&[Bind::Uniform, Bind::Read, Bind::Write]))
    }

    /// `adam_tick` (`shaders/adam.wgsl`).
    pub fn adam_tick(&self) -> Arc<Kernel> {
        self.plain(ADAM, "adam_tick", &[(0, Bind::Uniform), (5, Bind::Write)])
    }

    /// `adam_step` (`shaders/adam.wgsl`).
    pub fn adam_step(&self) -> Arc<Kernel> {
        use Bind::*;
        self.plain(ADAM, "adam_step", &seq(&[Uniform, Read, Write, Write, Write, Write]))
    }

    /// `preprocess` (`shaders/image.wgsl`).
    pub fn preprocess(&self) -> Arc<Kernel> {
        self.plain(IMAGE, "preprocess", &seq(&[Bind::Uniform, Bind::Read, Bind::Write]))
    }

    /// `postprocess` (`shaders/image.wgsl`).
    pub fn postprocess(&self) -> Arc<Kernel> {
        self.plain(IMAGE, "postprocess", &[(0, Bind::Uniform), (3, Bind::Read), (4, Bind::Write)])
    }

    /// The conv kernel for one direction, tile and storage precision. Bindings: uniform params,
    /// then input, weights, bias, mask (read) and output (read-write), as in `shaders/conv.wgsl`.
    /// Panics on a `Direct` lane count other than 4, 16 or 64.
    pub fn conv(&self, backward: bool, tile: ConvTile, precision: Precision) -> Arc<Kernel> {
        use Bind::*;
        let (tile_name, entry, narrow, lanes) = match tile {
            ConvTile::Wide => (String::new(), "main", 0.0, 64),
            ConvTile::Narrow => ("_narrow".into(), "main", 1.0, 64),
            ConvTile::Direct(l @ (4 | 16 | 64)) => (format!("_direct{l}"), "direct", 0.0, l),
            ConvTile::Direct(l) => panic!("no direct conv kernel with {l} lanes"),
        };
        let dir = if backward { "backward" } else { "forward" };
        let name = format!("conv_{dir}{tile_name}{}", precision.suffix());
        let consts = [("BACKWARD", backward as u32 as f64), ("NARROW", narrow), ("LANES", lanes as f64)];
        self.get(name, CONV, precision, Some(backward), entry, &consts, &seq(&[Uniform, Read, Read, Read, Read, Write]))
    }

    /// 2×2 pooling forward or backward, max or average; bindings as in `shaders/pool.wgsl`.
    pub fn pool(&self, backward: bool, avg: bool, precision: Precision) -> Arc<Kernel> {
        use Bind::*;
        let name = format!("pool_{}_{}{}", if avg { "avg" } else { "max" }, if backward { "backward" } else { "forward" }, precision.suffix());
        let (entry, bindings): (&'static str, &[(u32, Bind)]) = if backward {
            ("pool_backward", &[(0, Uniform), (1, Read), (2, Write), (3, Read)])
        } else {
            ("pool_forward", &[(0, Uniform), (1, Read), (2, Write)])
        };
        self.get(name, POOL, precision, None, entry, &[("AVERAGE", avg as u32 as f64)], bindings)
    }

    /// Gram partials: `gram_partial` (tiled; `lanes` = None) or `gram_direct` with 4, 16 or 64
    /// invocations per workgroup. Panics on another lane count.
    pub fn gram_partial(&self, lanes: Option<u32>, precision: Precision) -> Arc<Kernel> {
        use Bind::*;
        self.lanes_variant("gram_partial", "gram_direct", lanes, precision, &[(0, Uniform), (1, Read), (2, Write)])
    }

    /// Style gradient: `style_grad` (tiled; `lanes` = None) or `style_grad_direct` with 4, 16 or
    /// 64 invocations per workgroup. Panics on another lane count.
    pub fn style_grad(&self, lanes: Option<u32>, precision: Precision) -> Arc<Kernel> {
        use Bind::*;
        self.lanes_variant("style_grad", "style_grad_direct", lanes, precision, &[(0, Uniform), (1, Read), (2, Write), (3, Read)])
    }

    fn lanes_variant(&self, tiled: &'static str, direct: &'static str, lanes: Option<u32>, precision: Precision, bindings: &[(u32, Bind)]) -> Arc<Kernel> {
        match lanes {
            None => self.get(format!("{tiled}{}", precision.suffix()), GRAM, precision, None, tiled, &[], bindings),
            Some(l @ (4 | 16 | 64)) => {
                self.get(format!("{direct}{l}{}", precision.suffix()), GRAM, precision, None, direct, &[("LANES", l as f64)], bindings)
            }
            Some(l) => panic!("no {direct} kernel with {l} lanes"),
        }
    }

    /// Content loss with its gradient (`shaders/loss.wgsl`), reading activations in `precision`.
    pub fn content_loss(&self, precision: Precision) -> Arc<Kernel> {
        use Bind::*;
        let b = [(0, Uniform), (1, Read), (2, Write), (3, Read), (4, Write)];
        self.get(format!("content_loss{}", precision.suffix()), LOSS, precision, None, "content_loss", &[], &b)
    }

    /// f32 values to stored activations (`to_act` in `shaders/image.wgsl`).
    pub fn to_act(&self, precision: Precision) -> Arc<Kernel> {
        use Bind::*;
        let b = [(0, Uniform), (3, Read), (5, Write)];
        self.get(format!("to_act{}", precision.suffix()), IMAGE, precision, None, "image_to_act", &[], &b)
    }
}

impl Kernel {
    fn new(
        device: &wgpu::Device,
        module: &wgpu::ShaderModule,
        name: String,
        entry: &'static str,
        constants: &[(&str, f64)],
        bindings: &[(u32, Bind)],
    ) -> Kernel {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = bindings
            .iter()
            .map(|&(binding, kind)| wgpu::BindGroupLayoutEntry {
                binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match kind {
                        Bind::Uniform => wgpu::BufferBindingType::Uniform,
                        Bind::Read => wgpu::BufferBindingType::Storage { read_only: true },
                        Bind::Write => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(&name),
            entries: &entries,
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(&name),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&name),
            layout: Some(&pipeline_layout),
            module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions { constants, ..Default::default() },
            cache: None,
        });
        Kernel { name, pipeline, layout, bindings: bindings.to_vec() }
    }

    /// Builds a [`Dispatch`]: uploads `params` into a new uniform buffer (binding 0) and binds
    /// `buffers` to the kernel's remaining bindings, in binding order.
    pub fn dispatch<P: bytemuck::Pod>(
        &self,
        gpu: &Gpu,
        label: impl Into<String>,
        params: &P,
        buffers: &[&wgpu::Buffer],
        groups: [u32; 3],
        flops: f64,
    ) -> Dispatch {
        assert_eq!(buffers.len() + 1, self.bindings.len(), "kernel {} binding count", self.name);
        let uniform = gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(&self.name),
            contents: bytemuck::bytes_of(params),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let mut entries = vec![wgpu::BindGroupEntry { binding: self.bindings[0].0, resource: uniform.as_entire_binding() }];
        for (i, b) in buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry { binding: self.bindings[i + 1].0, resource: b.as_entire_binding() });
        }
        let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&self.name),
            layout: &self.layout,
            entries: &entries,
        });
        Dispatch {
            label: label.into(),
            kernel: self.name.clone(),
            flops,
            pipeline: self.pipeline.clone(),
            bind_group,
            groups,
        }
    }
}
