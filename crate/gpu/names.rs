//! The names of a session's buffers as a type: the plan adds a buffer under a [`Buf`] and the code
//! that binds it takes it by the same value ([`super::Arena::take`]), so a buffer only one side
//! names fails to compile. What varies at run time rides in the variants: the network
//! ([`Net`]), the layer (`relu3_1`), the tile, region, painting or pair. Each prints as the name
//! people see (`stylize info --sizes`, the too-large error).

use std::fmt;

/// Which network a buffer belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Net {
    /// The network over the whole photo.
    Photo,
    /// The painting's network, while the targets are computed.
    Painting,
    /// The one network every tile runs through.
    Tile,
}

impl Net {
    fn prefix(self) -> &'static str {
        match self {
            Net::Photo => "",
            Net::Painting => "style ",
            Net::Tile => "tile ",
        }
    }
}

/// A planned buffer. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Buf {
    // The image and what the optimisers keep.
    Image,
    ImageGradient,
    ImageAverage,
    DisplayRgba,
    KeepMask,
    Photo,
    // A video frame's temporal loss: the previous frame's result warped into it, and where that is reliable.
    TemporalPrevious,
    TemporalReliable,
    Losses,
    LossPartials,
    AdamM,
    AdamV,
    AdamState,
    LbfgsS(usize),
    LbfgsY(usize),
    LbfgsPreviousGradient,
    LbfgsDirection,
    LbfgsPartialSums,
    LbfgsScalars,
    // Networks.
    NetworkInput(Net),
    Activation(Net, String),
    GradientPing(Net),
    GradientPong(Net),
    // Scratch of every network's Winograd convs (one pair, shared).
    WinogradInput,
    WinogradProduct,
    // Style and content (per layer; per painting k).
    GramPartials(String),
    GramSum(String),
    GramDiff(String),
    StyleTarget(String),
    StyleGramPartials(String),
    StyleGrams(String, usize),
    /// What pass k owns of the photo's relu4_2 (the whole image: pass 0).
    ContentTarget(usize),
    // Regions (per layer and styled region).
    RegionMask(String, usize),
    RegionGramSum(String, usize),
    RegionGramDiff(String, usize),
    StyleMask(String, usize),
    RegionTarget(String, usize),
    RegionFeatures,
    RegionGradient,
    StyleRegionFeatures,
    // The targets' inputs and colour control.
    ContentRgba,
    StyleRgba,
    StyleImage,
    ColourMomentsPhoto,
    ColourMomentsPainting,
    ColourAffine,
    // A tile's scratch.
    TileInput,
    TileImageGradient,
    TileCrop,
    TileCropGradient,
    TileMaskCrop,
    TileMaskedCrop,
    TileMaskedGradient,
    // The windowed per-pixel kernels' scratch.
    StagingA,
    StagingB,
}

impl fmt::Display for Buf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Buf::*;
        let fixed = match self {
            Image => "image",
            ImageGradient => "image gradient",
            ImageAverage => "image average",
            DisplayRgba => "display rgba",
            KeepMask => "keep mask",
            Photo => "photo",
            TemporalPrevious => "temporal previous",
            TemporalReliable => "temporal reliable",
            Losses => "losses",
            LossPartials => "loss partials",
            AdamM => "adam m",
            AdamV => "adam v",
            AdamState => "adam state",
            LbfgsPreviousGradient => "lbfgs previous gradient",
            LbfgsDirection => "lbfgs direction",
            LbfgsPartialSums => "lbfgs partial sums",
            LbfgsScalars => "lbfgs scalars",
            RegionFeatures => "region features",
            RegionGradient => "region gradient",
            StyleRegionFeatures => "style region features",
            ContentRgba => "content rgba",
            StyleRgba => "style rgba",
            StyleImage => "style image",
            ColourMomentsPhoto => "colour moments photo",
            ColourMomentsPainting => "colour moments painting",
            ColourAffine => "colour affine",
            TileInput => "tile input",
            TileImageGradient => "tile image gradient",
            TileCrop => "tile crop",
            TileCropGradient => "tile crop gradient",
            TileMaskCrop => "tile mask crop",
            TileMaskedCrop => "tile masked crop",
            TileMaskedGradient => "tile masked gradient",
            WinogradInput => "winograd input",
            WinogradProduct => "winograd product",
            StagingA => "staging a",
            StagingB => "staging b",
            LbfgsS(i) => return write!(f, "lbfgs s{i}"),
            LbfgsY(i) => return write!(f, "lbfgs y{i}"),
            NetworkInput(n) => return write!(f, "{}network input", n.prefix()),
            Activation(n, l) => return write!(f, "{}activation {l}", n.prefix()),
            GradientPing(n) => return write!(f, "{}gradient ping", n.prefix()),
            GradientPong(n) => return write!(f, "{}gradient pong", n.prefix()),
            GramPartials(l) => return write!(f, "gram partials {l}"),
            GramSum(l) => return write!(f, "gram sum {l}"),
            GramDiff(l) => return write!(f, "gram diff {l}"),
            StyleTarget(l) => return write!(f, "style target {l}"),
            StyleGramPartials(l) => return write!(f, "style gram partials {l}"),
            StyleGrams(l, k) => return write!(f, "style grams {l} {k}"),
            ContentTarget(k) => return write!(f, "content target {k}"),
            RegionMask(l, r) => return write!(f, "region mask {l} {r}"),
            RegionGramSum(l, r) => return write!(f, "region gram sum {l} {r}"),
            RegionGramDiff(l, r) => return write!(f, "region gram diff {l} {r}"),
            StyleMask(l, r) => return write!(f, "style mask {l} {r}"),
            RegionTarget(l, r) => return write!(f, "region target {l} {r}"),
        };
        f.write_str(fixed)
    }
}
