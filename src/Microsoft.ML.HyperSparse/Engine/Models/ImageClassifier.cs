using Microsoft.ML.HyperSparse.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Engine.Models;

/// <summary>The network architectures the engine trains.</summary>
internal enum Architecture
{
    /// <summary>LeNet-5: two 5×5 convolutions (6, 16 filters) with max-pooling, then 120-84-classes fully connected.</summary>
    LeNet5,
    /// <summary>Multi-layer perceptron 300-100-classes on the flattened image.</summary>
    Mlp,
    /// <summary>CIFAR-style ResNet-20, 16/32/64 wide (n = 3 basic blocks per stage).</summary>
    ResNet20,
    /// <summary>The paper's ResNet-32 at double width, 32/64/128 (n = 5 basic blocks per stage).</summary>
    ResNet32,
    /// <summary>The paper's VGG-19 with batch normalisation (CIFAR variant: 16 convolutions, one linear classifier).</summary>
    Vgg19,
    /// <summary>torchvision's ImageNet ResNet-18: 7×7/2 stem, 3×3/2 max-pool, basic blocks [2, 2, 2, 2] at 64-128-256-512.</summary>
    ResNet18,
    /// <summary>torchvision's ImageNet ResNet-34: as ResNet-18 with blocks [3, 4, 6, 3].</summary>
    ResNet34,
    /// <summary>The ResNet-18 ML.NET ships (CNTK's): as ResNet-18 with blocks [2, 2, 2, 3].</summary>
    ResNet18MLNet,
}

/// <summary>Shape of the images a network takes: channels × height × width.</summary>
internal readonly record struct ImageShape(int Channels, int Height, int Width)
{
    public int Size => Channels * Height * Width;
    public override string ToString() => $"{Channels}×{Height}×{Width}";
}

/// <summary>One conv or linear weight in the global prunable set, with its state-dict name.</summary>
internal sealed record PrunableLayer(string Name, Parameter Weight)
{
    /// <summary>The layer's name: <see cref="Name"/> without ".weight" (the ONNX node name, e.g. "layer1.0.conv1").</summary>
    public string LayerName => Pruning.LayerSelection.LayerName(Name);

    public long Count => Weight.numel();
    public long[] Shape => Weight.shape;
}

/// <summary>
/// Base of every engine network: a module mapping [N, C, H, W] to logits [N, classes] that can list its prunable
/// weights (all conv and linear weights, in registration order, as the reference does) and describe itself for export.
/// </summary>
internal abstract class ImageClassifier : nn.Module<Tensor, Tensor>
{
    protected ImageClassifier(string name, ImageShape input, int classCount) : base(name)
    {
        if (classCount < 2) throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "A classifier needs at least 2 classes.");
        if (input.Channels < 1 || input.Height < 1 || input.Width < 1)
            throw new ArgumentOutOfRangeException(nameof(input), input, "Image dimensions must be positive.");
        Input = input;
        ClassCount = classCount;
    }

    public ImageShape Input { get; }
    public int ClassCount { get; }

    /// <summary>All Conv2d and Linear weights in module registration order; biases and BatchNorm are not in the set.</summary>
    public IReadOnlyList<PrunableLayer> PrunableLayers()
    {
        // TorchSharp's named_modules() lists a module's plain fields before the contents of its ModuleLists, while
        // named_parameters() follows registration (forward) order, which is the reference's order: take names from the
        // former, order from the latter.
        var prunable = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, module) in named_modules())
            if (module is Conv2d or Linear) prunable.Add(name + ".weight");
        return named_parameters().Where(p => prunable.Contains(p.name)).Select(p => new PrunableLayer(p.name, p.parameter)).ToList();
    }

    /// <summary>
    /// Gives every 4-D parameter (the convolution weights) NHWC strides — channels-last, as PyTorch's
    /// <c>model.to(memory_format=torch.channels_last)</c>: libtorch then runs oneDNN's channels-last convolutions
    /// (<see cref="Training.TrainingOptions.ChannelsLast"/>) — or, with <paramref name="channelsLast"/> false, back to
    /// contiguous NCHW. The parameters stay the same objects (their storage is replaced in place), so optimisers and layer
    /// lists keep working; values are unchanged.
    /// </summary>
    internal void SetChannelsLast(bool channelsLast)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var p in parameters())
        {
            if (p.dim() != 4) continue;
            if (!channelsLast && p.is_contiguous()) continue;
            var target = channelsLast ? ToChannelsLast(p) : p.contiguous();
            p.set_(target);
        }
    }

    /// <summary>A copy of a 4-D tensor (N, C, H, W) with NHWC strides (TorchSharp has no memory_format argument).</summary>
    internal static Tensor ToChannelsLast(Tensor t) => t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    /// <summary>Describes the network as shapes and arrays for the ONNX writer (eval form: BN running statistics).</summary>
    public abstract IReadOnlyList<NetworkNode> Describe();

    /// <summary>
    /// The whole network as the ONNX writer takes it — input, normalisation baked in front, nodes (layers in
    /// <paramref name="keptDense"/> marked not prunable) — the one place the adapter's Fit and the benchmarks get it from.
    /// </summary>
    public NetworkDescription DescribeNetwork(string inputName, Data.Normalization normalization, IReadOnlySet<string>? keptDense = null, int? inputChannels = null) => new()
    {
        InputName = inputName,
        Channels = Input.Channels,
        InputChannels = inputChannels == Input.Channels ? null : inputChannels,
        Height = Input.Height,
        Width = Input.Width,
        ClassCount = ClassCount,
        PixelScale = normalization.PixelScale,
        Mean = normalization.Mean,
        Std = normalization.Std,
        Nodes = keptDense is null ? Describe() : Describe(keptDense),
    };

    /// <summary>
    /// <see cref="Describe()"/> with the named layers (names without ".weight") marked not prunable, so the writer stores
    /// them dense and leaves them out of the file's pruned-layer list.
    /// </summary>
    public IReadOnlyList<NetworkNode> Describe(IReadOnlySet<string> keptDense) => Describe().Select(node => node switch
    {
        Conv2dNode conv when keptDense.Contains(conv.Name) => conv with { Prunable = false },
        LinearNode linear when keptDense.Contains(linear.Name) => linear with { Prunable = false },
        _ => node,
    }).ToList();

    protected static float[] ToArray(Tensor t)
    {
        // detach/contiguous/cpu each return a new handle: the scope releases them all (no finalizer-only tensors).
        using var scope = NewDisposeScope();
        return t.detach().contiguous().cpu().to_type(ScalarType.Float32).data<float>().ToArray();
    }

    protected static Conv2dNode DescribeConv(string name, Conv2d conv, string input, string output, int stride, int padding)
    {
        var w = conv.weight!;
        var shape = w.shape;
        return new Conv2dNode(name, input, output,
            (int)shape[0], (int)shape[1], (int)shape[2], (int)shape[3],
            stride, stride, padding, padding,
            ToArray(w), conv.bias is null ? null : ToArray(conv.bias), Prunable: true);
    }

    protected static BatchNormNode DescribeBatchNorm(string name, BatchNorm2d bn, string input, string output) =>
        new(name, input, output, ToArray(bn.weight!), ToArray(bn.bias!), ToArray(bn.running_mean!), ToArray(bn.running_var!), (float)bn.eps);

    protected static LinearNode DescribeLinear(string name, Linear linear, string input, string output) =>
        new(name, input, output, (int)linear.out_features, (int)linear.in_features,
            ToArray(linear.weight!), linear.bias is null ? null : ToArray(linear.bias), Prunable: true);
}
