//! The VGG19 network as a static graph: layer shapes for an image size, the buffer plan checked
//! against device limits before anything is created, weights on the GPU, and the forward pass as a
//! list of dispatches built once per size.

use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu, Precision};
use crate::kernels::{self, ConvForward, ConvShape, LbfgsConfig, PoolShape};
use crate::session::{Optimizer, Settings};
pub use crate::kernels::Pooling;
use crate::weights::VggWeights;
use std::rc::Rc;

/// Style layers (ReLU outputs of conv1_1, conv2_1, conv3_1, conv4_1, conv5_1).
pub const STYLE_LAYERS: [&str; 5] = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"];
/// Content layer.
pub const CONTENT_LAYER: &str = "relu4_2";

/// One layer of the truncated network (conv1_1 … relu5_1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerShape {
    /// `relu1_1` for a conv+ReLU, `pool1` for a pooling layer.
    pub name: String,
    /// Index into [`VggWeights::convs`] for a conv layer, `None` for pooling.
    pub conv: Option<usize>,
    /// Input channels, height, width.
    pub input: (usize, usize, usize),
    /// Output channels, height, width.
    pub output: (usize, usize, usize),
}

impl LayerShape {
    /// Elements of the output.
    pub fn out_len(&self) -> usize {
        self.output.0 * self.output.1 * self.output.2
    }
}

/// Layer shapes for an input of `width`×`height`, given each conv's channel counts.
pub fn layer_shapes(width: usize, height: usize, channels: &[(usize, usize)]) -> Vec<LayerShape> {
    let mut layers = Vec::new();
    let (mut h, mut w) = (height, width);
    let mut c = 3;
    let mut conv = 0;
    for (block, convs) in [2usize, 2, 4, 4, 1].iter().enumerate() {
        if block > 0 {
            layers.push(LayerShape { name: format!("pool{block}"), conv: None, input: (c, h, w), output: (c, h / 2, w / 2) });
            h /= 2;
            w /= 2;
        }
        for k in 0..*convs {
            let (cin, cout) = channels[conv];
            debug_assert_eq!(cin, c);
            layers.push(LayerShape { name: format!("relu{}_{}", block + 1, k + 1), conv: Some(conv), input: (c, h, w), output: (cout, h, w) });
            c = cout;
            conv += 1;
        }
    }
    layers
}

/// The channel counts of the real VGG19 convolutions.
pub fn vgg19_channels() -> Vec<(usize, usize)> {
    crate::weights::CONVS.iter().map(|&(_, i, o)| (i, o)).collect()
}

/// Splits `size` (the longer side) into width × height with the aspect ratio of `w0`×`h0`.
pub fn fit_size(w0: u32, h0: u32, size: u32) -> (u32, u32) {
    if w0 >= h0 {
        (size, ((size as f64 * h0 as f64 / w0 as f64).round() as u32).max(1))
    } else {
        (((size as f64 * w0 as f64 / h0 as f64).round() as u32).max(1), size)
    }
}

/// Every buffer a session at `width`×`height` creates (content network, optimiser state, loss
/// targets), as (name, bytes), with activations stored in `precision`. `style` is the style
/// image's size, whose network exists only while the targets are computed.
pub fn buffer_plan(width: usize, height: usize, style: (usize, usize), channels: &[(usize, usize)], precision: Precision, settings: &Settings) -> Vec<(String, u64)> {
    let mut plan = Vec::new();
    let layers = layer_shapes(width, height, channels);
    let hw = (width * height) as u64;
    let ab = precision.bytes();
    for name in ["image", "image average", "image gradient"] {
        plan.push((name.to_string(), 12 * hw));
    }
    match settings.optimizer {
        Optimizer::Adam => {
            plan.push(("adam m".into(), 12 * hw));
            plan.push(("adam v".into(), 12 * hw));
            plan.push(("adam state".into(), 32));
        }
        Optimizer::Lbfgs => {
            plan.extend(LbfgsConfig { lr: 1.0, history: settings.history as usize, decay: 0.0 }.buffers(hw as usize));
        }
    }
    plan.push(("display rgba".into(), 4 * hw));
    if precision != Precision::F32 {
        plan.push(("network input".into(), 3 * ab * hw));
    }
    let mut largest_act = 0;
    for l in &layers {
        plan.push((format!("activation {}", l.name), ab * l.out_len() as u64));
        largest_act = largest_act.max(4 * l.out_len() as u64);
    }
    plan.push(("gradient ping".into(), largest_act));
    plan.push(("gradient pong".into(), largest_act));
    for l in layers.iter().filter(|l| STYLE_LAYERS.contains(&l.name.as_str())) {
        let c = l.output.0;
        let split = kernels::GramSplit::new(c, l.output.1 * l.output.2);
        plan.push((format!("gram partials {}", l.name), 4 * split.partial_len() as u64));
        plan.push((format!("style target {}", l.name), 4 * (c * c) as u64));
        plan.push((format!("gram diff {}", l.name), 4 * (c * c) as u64));
    }
    if let Some(l) = layers.iter().find(|l| l.name == CONTENT_LAYER) {
        plan.push(("content target".into(), ab * l.out_len() as u64));
    }
    let style_layers = layer_shapes(style.0, style.1, channels);
    plan.push(("style image".into(), 12 * (style.0 * style.1) as u64));
    if precision != Precision::F32 {
        plan.push(("style network input".into(), 3 * ab * (style.0 * style.1) as u64));
    }
    for l in &style_layers {
        plan.push((format!("style activation {}", l.name), ab * l.out_len() as u64));
    }
    for l in style_layers.iter().filter(|l| STYLE_LAYERS.contains(&l.name.as_str())) {
        let split = kernels::GramSplit::new(l.output.0, l.output.1 * l.output.2);
        plan.push((format!("style gram partials {}", l.name), 4 * split.partial_len() as u64));
    }
    plan
}

/// Checks that every buffer of the plan for `width`×`height` (content) and `style`, activations
/// stored in `precision`, fits the device's per-buffer limit `max_bytes`. Returns the plan's total
/// bytes. On failure returns [`Error::TooLarge`] naming the largest buffer and the largest longer
/// side that would fit at the same aspect ratios.
pub fn check_plan(width: usize, height: usize, style: (usize, usize), channels: &[(usize, usize)], precision: Precision, settings: &Settings, max_bytes: u64) -> Result<u64> {
    let plan = buffer_plan(width, height, style, channels, precision, settings);
    let total: u64 = plan.iter().map(|b| b.1).sum();
    let (name, bytes) = plan.iter().max_by_key(|b| b.1).cloned().expect("non-empty plan");
    if bytes <= max_bytes {
        return Ok(total);
    }
    let longer = width.max(height);
    let mut fits = 0;
    let mut s = longer;
    while s >= 16 {
        let k = s as f64 / longer as f64;
        let sc = |v: usize| ((v as f64 * k).round() as usize).max(1);
        let p = buffer_plan(sc(width), sc(height), (sc(style.0), sc(style.1)), channels, precision, settings);
        if p.iter().all(|b| b.1 <= max_bytes) {
            fits = s;
            break;
        }
        s = (s as f64 * 0.95) as usize;
    }
    Err(Error::TooLarge { width: width as u32, height: height as u32, buffer: name, bytes, limit: max_bytes, fits: fits as u32 })
}

/// One convolution's parameters on the GPU.
pub struct GpuConv {
    /// Forward shape's channels (in, out).
    pub cin: usize,
    pub cout: usize,
    /// `[cin·9][cout4]` (cout rounded up to a multiple of 4, zero-padded), in the device's precision.
    pub forward: wgpu::Buffer,
    /// `[cout·9][cin4]`, rotated and transposed for the input gradient, in the device's precision.
    pub backward: wgpu::Buffer,
    /// `[cout]`.
    pub bias: wgpu::Buffer,
}

/// The GPU context plus the network weights: everything made once per device and weights file.
pub struct Engine {
    pub gpu: Gpu,
    pub convs: Vec<GpuConv>,
}

impl Engine {
    /// Uploads the weights (forward and input-gradient GEMM layouts, prepared on the CPU once) in
    /// the device's storage precision (`gpu.precision`).
    pub fn new(gpu: Gpu, weights: &VggWeights) -> Result<Rc<Engine>> {
        let max = gpu.max_storage_bytes();
        let pr = gpu.precision;
        let mut convs = Vec::new();
        for c in &weights.convs {
            let (fwd, bwd) = (c.forward_gemm(), c.backward_gemm());
            let bytes = pr.bytes() * fwd.len().max(bwd.len()) as u64;
            if bytes > max {
                return Err(Error::Device(format!("{} weights need {bytes} bytes; the device allows {max}", c.name)));
            }
            convs.push(GpuConv {
                cin: c.cin,
                cout: c.cout,
                forward: gpu.storage_init(&format!("{} fwd", c.name), &pr.weight_bytes(&fwd)),
                backward: gpu.storage_init(&format!("{} bwd", c.name), &pr.weight_bytes(&bwd)),
                bias: gpu.storage_init(&format!("{} bias", c.name), &c.bias),
            });
        }
        gpu.check()?;
        Ok(Rc::new(Engine { gpu, convs }))
    }

    /// (cin, cout) of each conv.
    pub fn channels(&self) -> Vec<(usize, usize)> {
        self.convs.iter().map(|c| (c.cin, c.cout)).collect()
    }
}

/// Activations of the network for one input size, and its forward pass.
pub struct Network {
    pub width: usize,
    pub height: usize,
    pub layers: Vec<LayerShape>,
    /// One buffer per layer output, `[c][h][w]`, stored in `gpu.precision`.
    pub acts: Vec<wgpu::Buffer>,
    /// The forward pass from `input` to relu5_1.
    pub forward: Vec<Dispatch>,
}

impl Network {
    /// Creates activation buffers and the forward dispatches reading `input` (f32
    /// `[3][height][width]`, network space; with f16 storage the pass starts by converting it into
    /// a buffer of its own). Sizes must have been checked with [`check_plan`].
    pub fn new(engine: &Engine, input: &wgpu::Buffer, width: usize, height: usize, pooling: Pooling, prefix: &str) -> Network {
        let gpu = &engine.gpu;
        let v = gpu.variant();
        let layers = layer_shapes(width, height, &engine.channels());
        let acts: Vec<wgpu::Buffer> =
            layers.iter().map(|l| gpu.storage(&format!("{prefix}{}", l.name), v.precision.bytes() * l.out_len() as u64)).collect();
        let mut forward = Vec::new();
        let hw3 = 3 * width * height;
        let converted = (v.precision != Precision::F32).then(|| gpu.storage(&format!("{prefix}network input"), v.precision.bytes() * hw3 as u64));
        if let Some(c) = &converted {
            forward.push(kernels::to_act(gpu, v.precision, hw3, input, c));
        }
        let input = converted.as_ref().unwrap_or(input);
        for (i, l) in layers.iter().enumerate() {
            let src = if i == 0 { input } else { &acts[i - 1] };
            let (c, h, w) = l.input;
            forward.push(match l.conv {
                Some(k) => {
                    let cv = &engine.convs[k];
                    let shape = ConvShape { cin: c, cout: l.output.0, h, w };
                    let bufs = ConvForward { input: src, weight: &cv.forward, bias: &cv.bias, out: &acts[i] };
                    kernels::conv_forward(gpu, v, format!("{} fwd", l.name), shape, bufs)
                }
                None => kernels::pool_forward(gpu, v.precision, format!("{} fwd", l.name), pooling, PoolShape { c, h, w }, src, &acts[i]),
            });
        }
        Network { width, height, layers, acts, forward }
    }

    /// Reads layer `i`'s activation back as f32 values (`[c][h][w]`; with f16 storage, the
    /// stored half values unscaled).
    pub async fn read_act(&self, gpu: &Gpu, i: usize) -> Result<Vec<f32>> {
        gpu.read_act(&self.acts[i], gpu.precision, self.layers[i].out_len()).await
    }

    /// Index of the layer named `name` (e.g. `relu4_2`).
    pub fn index(&self, name: &str) -> usize {
        self.layers.iter().position(|l| l.name == name).expect("known layer name")
    }
}
