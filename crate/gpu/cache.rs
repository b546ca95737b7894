//! Compiled kernels: shader modules and compute pipelines made on first use and cached by a typed
//! key, each with an explicit bind group layout whose bindings are known by their WGSL names, so a
//! dispatch binds buffers by name and a missing, extra or misnamed buffer fails at once.

use super::{Dispatch, Gpu, Precision};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// The WGSL kernel files, one per family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shader {
    Conv,
    Pool,
    Gram,
    Loss,
    Adam,
    Lbfgs,
    Image,
    Tile,
    Color,
    Winograd,
    Flow,
}

impl Shader {
    /// Every kernel file.
    pub const ALL: [Shader; 11] =
        [Shader::Conv, Shader::Pool, Shader::Gram, Shader::Loss, Shader::Adam, Shader::Lbfgs, Shader::Image, Shader::Tile, Shader::Color, Shader::Winograd, Shader::Flow];

    /// Whether the file is a conv's (its module declares a direction's I/O types).
    pub fn is_conv(self) -> bool {
        matches!(self, Shader::Conv | Shader::Winograd)
    }

    /// File name in `shaders/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Shader::Conv => "conv.wgsl",
            Shader::Pool => "pool.wgsl",
            Shader::Gram => "gram.wgsl",
            Shader::Loss => "loss.wgsl",
            Shader::Adam => "adam.wgsl",
            Shader::Lbfgs => "lbfgs.wgsl",
            Shader::Image => "image.wgsl",
            Shader::Tile => "tile.wgsl",
            Shader::Color => "color.wgsl",
            Shader::Winograd => "winograd.wgsl",
            Shader::Flow => "flow.wgsl",
        }
    }

    /// The file's WGSL (embedded at build time).
    pub fn source(self) -> &'static str {
        match self {
            Shader::Conv => include_str!("../../shaders/conv.wgsl"),
            Shader::Pool => include_str!("../../shaders/pool.wgsl"),
            Shader::Gram => include_str!("../../shaders/gram.wgsl"),
            Shader::Loss => include_str!("../../shaders/loss.wgsl"),
            Shader::Adam => include_str!("../../shaders/adam.wgsl"),
            Shader::Lbfgs => include_str!("../../shaders/lbfgs.wgsl"),
            Shader::Image => include_str!("../../shaders/image.wgsl"),
            Shader::Tile => include_str!("../../shaders/tile.wgsl"),
            Shader::Color => include_str!("../../shaders/color.wgsl"),
            Shader::Winograd => include_str!("../../shaders/winograd.wgsl"),
            Shader::Flow => include_str!("../../shaders/flow.wgsl"),
        }
    }
}

/// Which way a conv runs: which pipeline variant and which I/O types its module declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `out = relu(W ⊛ in + bias)`; input and output are activations.
    Forward,
    /// The input gradient; input and output are f32 gradients.
    Backward,
}

/// One compiled WGSL module: a kernel file, the storage precision of its prelude, and (conv only)
/// the direction whose input/output types it declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModuleKey {
    pub shader: Shader,
    pub precision: Precision,
    /// `Some` for the conv files (conv.wgsl, winograd.wgsl) only.
    pub conv: Option<Direction>,
}

impl ModuleKey {
    /// Every module the engine can compile with `f16` available: what the naga and Tint
    /// validation tests check.
    pub fn all(with_f16: bool) -> Vec<ModuleKey> {
        let precisions = if with_f16 { vec![Precision::F32, Precision::F16] } else { vec![Precision::F32] };
        let mut v = Vec::new();
        for precision in precisions {
            for shader in Shader::ALL {
                let dirs: &[Option<Direction>] = if shader.is_conv() { &[Some(Direction::Forward), Some(Direction::Backward)] } else { &[None] };
                v.extend(dirs.iter().map(|&conv| ModuleKey { shader, precision, conv }));
            }
        }
        v
    }
}

/// What a binding of a kernel is, for building explicit bind group layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bind {
    /// `var<uniform>` parameters.
    Uniform,
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    Write,
}

/// One binding of a kernel: the WGSL variable's name, its `@binding` slot and its kind. The
/// `bindings_match_the_wgsl` test checks every kernel's table against its WGSL through naga.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Binding {
    pub name: &'static str,
    pub slot: u32,
    pub kind: Bind,
}

/// Shorthand for a [`Binding`] table entry.
pub const fn binding(name: &'static str, slot: u32, kind: Bind) -> Binding {
    Binding { name, slot, kind }
}

/// Everything a compute pipeline is compiled from: the module (shader file and prelude), the
/// entry point and the values of its override constants. The cache key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PipelineKey {
    pub module: ModuleKey,
    pub entry: &'static str,
    pub constants: Vec<(&'static str, u32)>,
}

/// A byte range of a buffer bound to one storage binding: the whole buffer, or a window of a
/// whole-image buffer larger than the device binds ([`crate::kernels::window`]).
#[derive(Clone, Copy, Debug)]
pub struct Slice<'a> {
    pub buffer: &'a wgpu::Buffer,
    /// Bytes from the buffer's start (a multiple of the device's storage offset alignment).
    pub offset: u64,
    /// Bytes bound (a multiple of 4).
    pub size: u64,
}

impl<'a> From<&'a wgpu::Buffer> for Slice<'a> {
    fn from(buffer: &'a wgpu::Buffer) -> Self {
        Slice { buffer, offset: 0, size: buffer.size() }
    }
}

/// Everything a [`Dispatch`] was built from, to replay it elsewhere (the Tint test runs recorded
/// kernel cases under Dawn): the pipeline key, the binding table, the uniform's bytes and the
/// buffer bound to each storage binding with the bound range (offset, size in bytes).
#[derive(Debug)]
pub struct Recipe {
    pub key: PipelineKey,
    pub bindings: &'static [Binding],
    pub params: Vec<u8>,
    pub buffers: Vec<(Binding, wgpu::Buffer, u64, u64)>,
}

/// One compiled compute pipeline with its explicit bind group layout.
pub struct Kernel {
    /// Entry point and variant (e.g. `conv_forward_direct16_f16`), for labels and timing tables.
    pub name: String,
    /// What it was compiled from.
    pub key: PipelineKey,
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    bindings: &'static [Binding],
}

/// The pipeline cache of a device (see the module docs). Thread-safe; kernels are compiled on
/// first use, so a device compiles only the variants its plans use.
pub struct Kernels {
    device: wgpu::Device,
    has_f16: bool,
    /// Test hook ([`super::GpuOptions::break_kernels`]).
    broken: Option<String>,
    modules: Mutex<HashMap<ModuleKey, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<PipelineKey, Arc<Kernel>>>,
}

impl Kernels {
    pub(crate) fn new(device: &wgpu::Device, has_f16: bool, broken: Option<String>) -> Kernels {
        Kernels { device: device.clone(), has_f16, broken, modules: Mutex::default(), pipelines: Mutex::default() }
    }

    /// The pipeline for `key` (compiled on first use; `name` names it in labels and timing tables),
    /// with bind group layout `bindings`. Panics if `key` asks for f16 storage on a device without
    /// `shader-f16` (plans never do).
    /// `source` gives the module's WGSL when it is compiled (its prelude is the kernels' business:
    /// [`crate::kernels::module_source`]).
    pub fn get(&self, key: PipelineKey, name: String, bindings: &'static [Binding], source: impl FnOnce() -> String) -> Arc<Kernel> {
        assert!(key.module.precision == Precision::F32 || self.has_f16, "f16 kernels need a device with shader-f16");
        let mut pipelines = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = pipelines.get(&key) {
            return k.clone();
        }
        let module = if self.broken.as_ref().is_some_and(|b| name.contains(b.as_str())) {
            // Test hook: a module the compiler rejects (never cached).
            self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("deliberately broken"),
                source: wgpu::ShaderSource::Wgsl(format!("{}\nthis line is not WGSL\n", source()).into()),
            })
        } else {
            let mut modules = self.modules.lock().unwrap_or_else(|p| p.into_inner());
            modules
                .entry(key.module)
                .or_insert_with(|| {
                    self.device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some(key.module.shader.file_name()), source: wgpu::ShaderSource::Wgsl(source().into()) })
                })
                .clone()
        };
        let k = Arc::new(Kernel::new(&self.device, &module, name, &key, bindings));
        pipelines.insert(key, k.clone());
        k
    }
}

impl Kernel {
    fn new(device: &wgpu::Device, module: &wgpu::ShaderModule, name: String, key: &PipelineKey, bindings: &'static [Binding]) -> Kernel {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = bindings
            .iter()
            .map(|b| wgpu::BindGroupLayoutEntry {
                binding: b.slot,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match b.kind {
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
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(&name), entries: &entries });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor { label: Some(&name), bind_group_layouts: &[Some(&layout)], immediate_size: 0 });
        let constants: Vec<(&str, f64)> = key.constants.iter().map(|&(n, v)| (n, v as f64)).collect();
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&name),
            layout: Some(&pipeline_layout),
            module,
            entry_point: Some(key.entry),
            compilation_options: wgpu::PipelineCompilationOptions { constants: &constants, ..Default::default() },
            cache: None,
        });
        Kernel { name, key: key.clone(), pipeline, layout, bindings }
    }

    /// Builds a [`Dispatch`]: uploads `params` into a new uniform buffer (the kernel's uniform
    /// binding) and binds each `(WGSL name, buffer)` of `buffers` to the slot of that name.
    /// Panics (a launcher bug) unless `buffers` names every storage binding exactly once.
    pub fn dispatch<P: bytemuck::Pod>(&self, gpu: &Gpu, label: impl Into<String>, params: &P, buffers: &[(&str, &wgpu::Buffer)], groups: [u32; 3], flops: f64) -> Dispatch {
        let slices: Vec<(&str, Slice)> = buffers.iter().map(|&(n, b)| (n, Slice::from(b))).collect();
        self.dispatch_slices(gpu, label, params, &slices, groups, flops)
    }

    /// [`Self::dispatch`] with byte ranges of buffers ([`Slice`]) bound instead of whole buffers.
    pub fn dispatch_slices<P: bytemuck::Pod>(&self, gpu: &Gpu, label: impl Into<String>, params: &P, buffers: &[(&str, Slice)], groups: [u32; 3], flops: f64) -> Dispatch {
        let uniform = gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(&self.name),
            contents: bytemuck::bytes_of(params),
            // COPY_DST: a live run's loss weights and step are changed in place (`session::steer`).
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        let mut entries = Vec::with_capacity(self.bindings.len());
        let mut bound = Vec::with_capacity(buffers.len());
        for b in self.bindings {
            let resource = match b.kind {
                Bind::Uniform => uniform.as_entire_binding(),
                _ => {
                    let mut named = buffers.iter().filter(|(n, _)| *n == b.name);
                    let buf = named.next().unwrap_or_else(|| panic!("kernel {}: no buffer for binding `{}`", self.name, b.name));
                    assert!(named.next().is_none(), "kernel {}: two buffers for binding `{}`", self.name, b.name);
                    let sl = buf.1;
                    bound.push((*b, sl.buffer.clone(), sl.offset, sl.size));
                    if sl.offset == 0 && sl.size == sl.buffer.size() {
                        sl.buffer.as_entire_binding()
                    } else {
                        wgpu::BindingResource::Buffer(wgpu::BufferBinding { buffer: sl.buffer, offset: sl.offset, size: std::num::NonZeroU64::new(sl.size) })
                    }
                }
            };
            entries.push(wgpu::BindGroupEntry { binding: b.slot, resource });
        }
        for (n, _) in buffers {
            assert!(self.bindings.iter().any(|b| b.name == *n && b.kind != Bind::Uniform), "kernel {}: it has no binding `{n}`", self.name);
        }
        let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some(&self.name), layout: &self.layout, entries: &entries });
        let recipe = std::rc::Rc::new(Recipe { key: self.key.clone(), bindings: self.bindings, params: bytemuck::bytes_of(params).to_vec(), buffers: bound });
        Dispatch { label: label.into(), kernel: self.name.clone(), flops, pipeline: self.pipeline.clone(), bind_group, groups, recipe, uniform }
    }
}
