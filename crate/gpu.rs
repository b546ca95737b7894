//! GPU context: adapter and device selection, limits, error capture, compiled kernels, buffer
//! helpers and the one asynchronous readback path used natively and on the web.

use crate::error::{Error, Result};
use std::sync::{Arc, Mutex, OnceLock};
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
}

/// The two implementations of the 3×3 conv GEMM in `shaders/conv.wgsl` (same results, same
/// bindings; the header of that file explains the cost models behind them). The same choice
/// selects between the tiled and direct Gram-partial and style-gradient kernels (`gram.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// Entry point, for labels and timing tables.
    pub name: &'static str,
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
    /// Kernel entry point.
    pub kernel: &'static str,
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

/// All kernels of the engine, compiled once per device.
pub struct Kernels {
    conv_module: wgpu::ShaderModule,
    device: wgpu::Device,
    /// Conv variants, compiled on first use (index: [`Kernels::conv`]).
    conv: [OnceLock<Kernel>; 10],
    gram_module: wgpu::ShaderModule,
    /// `gram_direct` then `style_grad_direct`, each with 4, 16, 64 lanes, compiled on first use.
    gram_lazy: [OnceLock<Kernel>; 6],
    pub pool_max_forward: Kernel,
    pub pool_avg_forward: Kernel,
    pub pool_max_backward: Kernel,
    pub pool_avg_backward: Kernel,
    pub gram_partial: Kernel,
    pub gram_finish: Kernel,
    pub style_diff: Kernel,
    pub style_grad: Kernel,
    pub content_loss: Kernel,
    pub tv_loss: Kernel,
    pub reduce: Kernel,
    pub finalize: Kernel,
    pub adam_tick: Kernel,
    pub adam_step: Kernel,
    pub preprocess: Kernel,
    pub postprocess: Kernel,
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
    /// timestamp queries when offered, installs error and device-lost handlers, and compiles every
    /// kernel. Fails with [`Error::NoAdapter`] or [`Error::Device`].
    pub async fn new(opts: &GpuOptions) -> Result<Gpu> {
        #[cfg(not(target_arch = "wasm32"))]
        let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        #[cfg(target_arch = "wasm32")]
        let desc = wgpu::InstanceDescriptor::new_without_display_handle();
        let instance = wgpu::Instance::new(desc);
        let wanted = opts.adapter_name.clone().or_else(|| {
            #[cfg(not(target_arch = "wasm32"))]
            {
                std::env::var("STYLIZE_ADAPTER").ok()
            }
            #[cfg(target_arch = "wasm32")]
            {
                None
            }
        });
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
        let features = adapter.features() & wgpu::Features::TIMESTAMP_QUERY;
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
        let mut conv_path = opts.conv_path;
        #[cfg(not(target_arch = "wasm32"))]
        if conv_path.is_none() {
            if let Ok(v) = std::env::var("STYLIZE_CONV") {
                conv_path = Some(ConvPath::parse(&v)?);
            }
        }
        let conv_path = conv_path.unwrap_or_else(|| ConvPath::for_adapter(&adapter_info));
        let kernels = Kernels::new(&device);
        Ok(Gpu {
            instance,
            adapter: adapter.clone(),
            device,
            queue,
            adapter_info,
            conv_path,
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
            "adapter: {} ({:?}, {:?}; conv path {:?})\ndriver: {} {}\nlimits: max_buffer_size {} B, max_storage_buffer_binding_size {} B, \
             max_storage_buffers_per_shader_stage {}, max_compute_workgroup_storage_size {} B, \
             max_compute_invocations_per_workgroup {}, max_compute_workgroups_per_dimension {}\n\
             adapter offers: max_buffer_size {} B, max_storage_buffer_binding_size {} B\nfeatures: {:?}",
            name,
            i.backend,
            i.device_type,
            self.conv_path,
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

impl Kernels {
    fn new(device: &wgpu::Device) -> Kernels {
        use Bind::*;
        let module = |i: usize| {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(SHADERS[i].0),
                source: wgpu::ShaderSource::Wgsl(SHADERS[i].1.into()),
            })
        };
        let (conv, pool, gram, loss, adam, image) = (module(0), module(1), module(2), module(3), module(4), module(5));
        let k = |m: &wgpu::ShaderModule, name: &'static str, entry: &'static str, consts: &[(&str, f64)], b: &[(u32, Bind)]| {
            Kernel::new(device, m, name, entry, consts, b)
        };
        let seq = |kinds: &[Bind]| -> Vec<(u32, Bind)> {
            kinds.iter().enumerate().map(|(i, &b)| (i as u32, b)).collect()
        };
        let pool_f = seq(&[Uniform, Read, Write]);
        let pool_b = seq(&[Uniform, Read, Write, Read]);
        Kernels {
            conv_module: conv,
            device: device.clone(),
            conv: Default::default(),
            gram_module: gram.clone(),
            gram_lazy: Default::default(),
            pool_max_forward: k(&pool, "pool_max_forward", "pool_forward", &[("AVERAGE", 0.0)], &pool_f),
            pool_avg_forward: k(&pool, "pool_avg_forward", "pool_forward", &[("AVERAGE", 1.0)], &pool_f),
            pool_max_backward: k(&pool, "pool_max_backward", "pool_backward", &[("AVERAGE", 0.0)], &pool_b),
            pool_avg_backward: k(&pool, "pool_avg_backward", "pool_backward", &[("AVERAGE", 1.0)], &pool_b),
            gram_partial: k(&gram, "gram_partial", "gram_partial", &[], &seq(&[Uniform, Read, Write])),
            gram_finish: k(&gram, "gram_finish", "gram_finish", &[], &seq(&[Uniform, Read, Write])),
            style_diff: k(&gram, "style_diff", "style_diff", &[], &seq(&[Uniform, Read, Write, Read, Write])),
            style_grad: k(&gram, "style_grad", "style_grad", &[], &seq(&[Uniform, Read, Write, Read])),
            content_loss: k(&loss, "content_loss", "content_loss", &[], &seq(&[Uniform, Read, Write, Read, Write])),
            tv_loss: k(&loss, "tv_loss", "tv_loss", &[], &[(0, Uniform), (1, Read), (2, Write), (4, Write)]),
            reduce: k(&loss, "reduce", "reduce", &[], &seq(&[Uniform, Read, Write])),
            finalize: k(&loss, "finalize", "finalize", &[], &[(0, Uniform), (2, Write)]),
            adam_tick: k(&adam, "adam_tick", "adam_tick", &[], &[(0, Uniform), (5, Write)]),
            adam_step: k(&adam, "adam_step", "adam_step", &[], &seq(&[Uniform, Read, Write, Write, Write, Write])),
            preprocess: k(&image, "preprocess", "preprocess", &[], &seq(&[Uniform, Read, Write])),
            postprocess: k(&image, "postprocess", "postprocess", &[], &[(0, Uniform), (3, Read), (4, Write)]),
        }
    }
}

impl Kernels {
    /// The conv kernel for one direction and tile, compiled on first use (a device only ever
    /// compiles the variants its [`ConvPath`] and layer sizes need). Bindings: uniform params,
    /// then input, weights, bias, mask (read) and output (read-write), as in `shaders/conv.wgsl`.
    /// Panics on a `Direct` lane count other than 4, 16 or 64.
    pub fn conv(&self, backward: bool, tile: ConvTile) -> &Kernel {
        const NAMES: [&str; 10] = [
            "conv_forward",
            "conv_forward_narrow",
            "conv_forward_direct4",
            "conv_forward_direct16",
            "conv_forward_direct64",
            "conv_backward",
            "conv_backward_narrow",
            "conv_backward_direct4",
            "conv_backward_direct16",
            "conv_backward_direct64",
        ];
        let (t, entry, narrow, lanes) = match tile {
            ConvTile::Wide => (0, "main", 0.0, 64.0),
            ConvTile::Narrow => (1, "main", 1.0, 64.0),
            ConvTile::Direct(4) => (2, "direct", 0.0, 4.0),
            ConvTile::Direct(16) => (3, "direct", 0.0, 16.0),
            ConvTile::Direct(64) => (4, "direct", 0.0, 64.0),
            ConvTile::Direct(l) => panic!("no direct conv kernel with {l} lanes"),
        };
        let i = t + if backward { 5 } else { 0 };
        self.conv[i].get_or_init(|| {
            use Bind::*;
            let b = if backward { 1.0 } else { 0.0 };
            let consts = [("BACKWARD", b), ("NARROW", narrow), ("LANES", lanes)];
            let bindings: Vec<(u32, Bind)> =
                [Uniform, Read, Read, Read, Read, Write].iter().enumerate().map(|(i, &k)| (i as u32, k)).collect();
            Kernel::new(&self.device, &self.conv_module, NAMES[i], entry, &consts, &bindings)
        })
    }
}

impl Kernels {
    /// `gram_direct` (Gram partials for CPU adapters) with 4, 16 or 64 invocations per workgroup,
    /// compiled on first use; bindings as `gram_partial`. Panics on another lane count.
    pub fn gram_direct(&self, lanes: u32) -> &Kernel {
        use Bind::*;
        const NAMES: [&str; 3] = ["gram_direct4", "gram_direct16", "gram_direct64"];
        self.gram_lazy(0, &NAMES, "gram_direct", &[(0, Uniform), (1, Read), (2, Write)], lanes)
    }

    /// `style_grad_direct` (style gradient for CPU adapters) with 4, 16 or 64 invocations per
    /// workgroup, compiled on first use; bindings as `style_grad`. Panics on another lane count.
    pub fn style_grad_direct(&self, lanes: u32) -> &Kernel {
        use Bind::*;
        const NAMES: [&str; 3] = ["style_grad_direct4", "style_grad_direct16", "style_grad_direct64"];
        self.gram_lazy(3, &NAMES, "style_grad_direct", &[(0, Uniform), (1, Read), (2, Write), (3, Read)], lanes)
    }

    fn gram_lazy(&self, first: usize, names: &[&'static str; 3], entry: &'static str, bindings: &[(u32, Bind)], lanes: u32) -> &Kernel {
        let i = match lanes {
            4 => 0,
            16 => 1,
            64 => 2,
            l => panic!("no {entry} kernel with {l} lanes"),
        };
        self.gram_lazy[first + i]
            .get_or_init(|| Kernel::new(&self.device, &self.gram_module, names[i], entry, &[("LANES", lanes as f64)], bindings))
    }
}

impl Kernel {
    fn new(
        device: &wgpu::Device,
        module: &wgpu::ShaderModule,
        name: &'static str,
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
            label: Some(name),
            entries: &entries,
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(name),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
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
            label: Some(self.name),
            contents: bytemuck::bytes_of(params),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let mut entries = vec![wgpu::BindGroupEntry { binding: self.bindings[0].0, resource: uniform.as_entire_binding() }];
        for (i, b) in buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry { binding: self.bindings[i + 1].0, resource: b.as_entire_binding() });
        }
        let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(self.name),
            layout: &self.layout,
            entries: &entries,
        });
        Dispatch {
            label: label.into(),
            kernel: self.name,
            flops,
            pipeline: self.pipeline.clone(),
            bind_group,
            groups,
        }
    }
}
