namespace Microsoft.ML.HyperSparse.Network;

/// <summary>
/// A plain description of a trained feed-forward image classifier: what the engine's models say about themselves,
/// as shapes and float arrays. The ONNX writer turns it into a standard ONNX graph; it knows neither TorchSharp nor ML.NET.
/// </summary>
/// <remarks>
/// Tensor flow: the graph input (named <see cref="InputName"/>, shape [batch, C, H, W], raw pixel values) is normalised as
/// <c>(x * PixelScale - Mean[c]) / Std[c]</c> into the tensor named <see cref="NormalizedTensor"/>. <see cref="Nodes"/>
/// are in topological order and refer to tensors by name; the node whose output is <see cref="LogitsTensor"/> gives the
/// class logits [batch, ClassCount].
/// </remarks>
internal sealed class NetworkDescription
{
    /// <summary>Name of the tensor holding the normalised input; the first node reads it.</summary>
    public const string NormalizedTensor = "normalized_input";

    /// <summary>Name of the tensor holding the logits; the last node writes it.</summary>
    public const string LogitsTensor = "logits";

    public required string InputName { get; init; }
    /// <summary>Channels the network's first layer reads (of the normalised tensor).</summary>
    public required int Channels { get; init; }

    /// <summary>
    /// Channels of the graph input, when not <see cref="Channels"/>: 1 with <see cref="Channels"/> = 3 takes grayscale images
    /// into a network trained on RGB (a pretrained one), the plane repeated by broadcasting in the mean subtraction. Null =
    /// <see cref="Channels"/>.
    /// </summary>
    public int? InputChannels { get; init; }

    /// <summary>Channels of the graph input.</summary>
    public int GraphInputChannels => InputChannels ?? Channels;
    public required int Height { get; init; }
    public required int Width { get; init; }
    public required int ClassCount { get; init; }

    /// <summary>Multiplies the raw input before mean/std normalisation (e.g. 1/255 for ExtractPixels' 0..255 values).</summary>
    public float PixelScale { get; init; } = 1f;

    /// <summary>Per-channel mean subtracted after scaling; length = <see cref="Channels"/>.</summary>
    public required float[] Mean { get; init; }

    /// <summary>Per-channel standard deviation divided by after the mean; length = <see cref="Channels"/>.</summary>
    public required float[] Std { get; init; }

    public required IReadOnlyList<NetworkNode> Nodes { get; init; }
}

/// <summary>One operation of a <see cref="NetworkDescription"/>.</summary>
internal abstract record NetworkNode(string Name, string Input, string Output);

/// <summary>
/// Zero padding of an image per side, in the order of ONNX's 2-D "pads" attribute: top, left, bottom, right. Networks
/// exported from other frameworks (CNTK's ResNet-18 pads its stride-2 layers [1, 1, 0, 0]) pad one side more than the other.
/// </summary>
internal readonly record struct ImagePadding(int Top, int Left, int Bottom, int Right)
{
    /// <summary>The same padding on both sides of each dimension (PyTorch's padding=(h, w)).</summary>
    public static ImagePadding Symmetric(int height, int width) => new(height, width, height, width);

    public bool IsZero => Top == 0 && Left == 0 && Bottom == 0 && Right == 0;

    public bool IsNonNegative => Top >= 0 && Left >= 0 && Bottom >= 0 && Right >= 0;

    public override string ToString() => $"[{Top}, {Left}, {Bottom}, {Right}]";
}

/// <summary>
/// 2-D convolution. <paramref name="Weight"/> is [OutChannels, InChannels, KernelH, KernelW] row-major. Padding is
/// <paramref name="PadH"/>/<paramref name="PadW"/> on both sides, or <paramref name="AsymmetricPads"/> per side (then
/// PadH and PadW must be 0); readers use <see cref="Pads"/>.
/// </summary>
internal sealed record Conv2dNode(
    string Name, string Input, string Output,
    int OutChannels, int InChannels, int KernelH, int KernelW,
    int StrideH, int StrideW, int PadH, int PadW,
    float[] Weight, float[]? Bias, bool Prunable, ImagePadding? AsymmetricPads = null) : NetworkNode(Name, Input, Output)
{
    /// <summary>The padding actually applied, per side.</summary>
    public ImagePadding Pads => AsymmetricPads ?? ImagePadding.Symmetric(PadH, PadW);
}

/// <summary>Batch normalisation in eval form: y = (x - Mean) / sqrt(Var + Epsilon) * Scale + Bias, per channel.</summary>
internal sealed record BatchNormNode(
    string Name, string Input, string Output,
    float[] Scale, float[] Bias, float[] Mean, float[] Var, float Epsilon) : NetworkNode(Name, Input, Output);

/// <summary>Element-wise max(x, 0).</summary>
internal sealed record ReluNode(string Name, string Input, string Output) : NetworkNode(Name, Input, Output);

/// <summary>
/// Max pooling, square kernel; padding (with −∞) <paramref name="Pad"/> on every side, or <paramref name="AsymmetricPads"/>
/// per side (then Pad must be 0); readers use <see cref="Pads"/>.
/// </summary>
internal sealed record MaxPoolNode(string Name, string Input, string Output, int Kernel, int Stride, int Pad = 0, ImagePadding? AsymmetricPads = null)
    : NetworkNode(Name, Input, Output)
{
    /// <summary>The padding actually applied, per side.</summary>
    public ImagePadding Pads => AsymmetricPads ?? ImagePadding.Symmetric(Pad, Pad);
}

/// <summary>Average pooling, square kernel, no padding.</summary>
internal sealed record AvgPoolNode(string Name, string Input, string Output, int Kernel, int Stride)
    : NetworkNode(Name, Input, Output);

/// <summary>Mean over the spatial dimensions: [N, C, H, W] → [N, C, 1, 1].</summary>
internal sealed record GlobalAvgPoolNode(string Name, string Input, string Output) : NetworkNode(Name, Input, Output);

/// <summary>[N, ...] → [N, prod(...)].</summary>
internal sealed record FlattenNode(string Name, string Input, string Output) : NetworkNode(Name, Input, Output);

/// <summary>Element-wise sum of <see cref="NetworkNode.Input"/> and <paramref name="Other"/> (residual join).</summary>
internal sealed record AddNode(string Name, string Input, string Other, string Output) : NetworkNode(Name, Input, Output);

/// <summary>Fully connected layer y = x Wᵀ + b. <paramref name="Weight"/> is [OutFeatures, InFeatures] row-major.</summary>
internal sealed record LinearNode(
    string Name, string Input, string Output,
    int OutFeatures, int InFeatures, float[] Weight, float[]? Bias, bool Prunable) : NetworkNode(Name, Input, Output);
