using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Engine.Models;

/// <summary>
/// ImageNet-style ResNet with basic blocks (He et al., torchvision's ResNet-18/34): a 7×7/2 conv + BN + ReLU stem and a
/// 3×3/2 max-pool, four stages 64-128-256-512 wide whose block counts are the parameter, 1×1/2 conv + BN projections where
/// a block halves the resolution, global average pooling and one linear classifier.
/// </summary>
/// <remarks>
/// Field names follow torchvision's state_dict (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0 / .1, fc), so that a
/// torchvision state_dict maps onto this module by name; they are also the ONNX initializer names and the layer names
/// KeepDenseLayers takes. Padding is symmetric as in torchvision. CNTK's ResNet-18 (the one ML.NET ships) pads its stride-2
/// layers per side (stem [3, 3, 2, 2], max-pool and 3×3 convs [1, 1, 0, 0]); on the even map sizes it meets there this
/// computes the same (symmetric padding's last row and column are never read; ImageClassifierExportTests writes this
/// network with CNTK's pads and scores it as TorchSharp does), so its weights need no padding of their own here.
/// </remarks>
internal sealed class ImageNetResNet : ImageClassifier
{
    /// <summary>
    /// Smallest image side: the stem conv, the max-pool and stages 2-4 halve the image five times, which leaves the last
    /// stage a 1×1 map at 32 px.
    /// </summary>
    public const int MinimumImageSize = 32;

    /// <summary>Stage widths; the classifier reads the last one.</summary>
    private static readonly int[] Widths = [64, 128, 256, 512];

    /// <summary>torchvision's resnet18.</summary>
    public static readonly int[] ResNet18Blocks = [2, 2, 2, 2];

    /// <summary>torchvision's resnet34.</summary>
    public static readonly int[] ResNet34Blocks = [3, 4, 6, 3];

    /// <summary>The ResNet-18 ML.NET ships (NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18, CNTK's export): one more block in stage 4.</summary>
    public static readonly int[] ResNet18MLNetBlocks = [2, 2, 2, 3];

    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly ModuleList<BasicBlock> layer1, layer2, layer3, layer4;
    private readonly Linear fc;

    public ImageNetResNet(string name, IReadOnlyList<int> blocksPerStage, ImageShape input, int classCount) : base(name, input, classCount)
    {
        if (blocksPerStage is null || blocksPerStage.Count != Widths.Length || blocksPerStage.Any(b => b < 1))
            throw new ArgumentOutOfRangeException(nameof(blocksPerStage), blocksPerStage is null ? "null" : $"[{string.Join(", ", blocksPerStage)}]",
                "An ImageNet-style ResNet needs 4 stages of at least 1 block each.");
        if (input.Height < MinimumImageSize || input.Width < MinimumImageSize)
            throw new ArgumentOutOfRangeException(nameof(input), input,
                $"{name} halves the image 5 times; it needs at least {MinimumImageSize}×{MinimumImageSize} pixels.");
        BlocksPerStage = blocksPerStage.ToArray();
        conv1 = nn.Conv2d(input.Channels, Widths[0], 7, stride: 2, padding: 3, bias: false);
        bn1 = nn.BatchNorm2d(Widths[0]);
        layer1 = Stage(Widths[0], Widths[0], BlocksPerStage[0], 1);
        layer2 = Stage(Widths[0], Widths[1], BlocksPerStage[1], 2);
        layer3 = Stage(Widths[1], Widths[2], BlocksPerStage[2], 2);
        layer4 = Stage(Widths[2], Widths[3], BlocksPerStage[3], 2);
        fc = nn.Linear(Widths[3], classCount);
        RegisterComponents();
        Initialize();
    }

    /// <summary>Basic blocks in each of the four stages.</summary>
    public IReadOnlyList<int> BlocksPerStage { get; }

    private static ModuleList<BasicBlock> Stage(int inPlanes, int planes, int blocks, int stride)
    {
        var list = new ModuleList<BasicBlock>();
        for (var i = 0; i < blocks; i++)
            list.Add(new BasicBlock(i == 0 ? inPlanes : planes, planes, i == 0 ? stride : 1));
        return list;
    }

    /// <summary>
    /// The prunable layers' names in registration order: the stem conv, each block's two convs (plus the projection of the
    /// first block of stages 2-4, where <see cref="Stage"/> halves the resolution and doubles the width), then the classifier.
    /// </summary>
    public static IReadOnlyList<string> LayerNames(IReadOnlyList<int> blocksPerStage)
    {
        var names = new List<string> { "conv1" };
        for (var stage = 1; stage <= blocksPerStage.Count; stage++)
            for (var i = 0; i < blocksPerStage[stage - 1]; i++)
            {
                names.Add($"layer{stage}.{i}.conv1");
                names.Add($"layer{stage}.{i}.conv2");
                if (stage > 1 && i == 0) names.Add($"layer{stage}.{i}.downsample.0");
            }
        names.Add("fc");
        return names;
    }

    /// <summary>torchvision's init: conv Kaiming-normal (fan_out, ReLU); BN γ=1, β=0; the linear layer keeps nn.Linear's default.</summary>
    private void Initialize()
    {
        using var _ = no_grad();
        foreach (var (_, module) in named_modules())
        {
            switch (module)
            {
                case Conv2d c: nn.init.kaiming_normal_(c.weight!, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU); break;
                case BatchNorm2d b: nn.init.ones_(b.weight!); nn.init.zeros_(b.bias!); break;
            }
        }
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return fc.call(Features(x)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The globally average-pooled last-stage features [N, 512] the classifier reads: what ML.NET's ResNet-18 featurizer
    /// outputs, so pretrained weights can be checked against it without a head.
    /// </summary>
    internal Tensor Features(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = F.relu(bn1.call(conv1.call(x)));
        h = F.max_pool2d(h, 3, 2, 1);
        foreach (var stage in new[] { layer1, layer2, layer3, layer4 })
            foreach (var block in stage)
                h = block.call(h);
        return F.adaptive_avg_pool2d(h, 1).flatten(1).MoveToOuterDisposeScope();
    }

    public override IReadOnlyList<NetworkNode> Describe()
    {
        var nodes = new List<NetworkNode>
        {
            DescribeConv("conv1", conv1, NetworkDescription.NormalizedTensor, "conv1", 2, 3),
            DescribeBatchNorm("bn1", bn1, "conv1", "bn1"),
            new ReluNode("relu", "bn1", "relu"),
            new MaxPoolNode("maxpool", "relu", "maxpool", Kernel: 3, Stride: 2, Pad: 1),
        };
        var current = "maxpool";
        var stages = new[] { ("layer1", layer1), ("layer2", layer2), ("layer3", layer3), ("layer4", layer4) };
        foreach (var (stageName, stage) in stages)
            for (var i = 0; i < stage.Count; i++)
                current = stage[i].Describe($"{stageName}.{i}", current, nodes);
        nodes.Add(new GlobalAvgPoolNode("avgpool", current, "avgpool"));
        nodes.Add(new FlattenNode("flatten", "avgpool", "flatten"));
        nodes.Add(DescribeLinear("fc", fc, "flatten", NetworkDescription.LogitsTensor));
        return nodes;
    }

    /// <summary>conv3×3-BN-ReLU-conv3×3-BN, plus the identity or the downsample projection, then ReLU.</summary>
    internal sealed class BasicBlock : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1, conv2;
        private readonly BatchNorm2d bn1, bn2;
        // torchvision's nn.Sequential(conv1x1, BN): its children are named "0" and "1".
        private readonly Sequential? downsample;
        private readonly int stride;

        public BasicBlock(int inPlanes, int planes, int stride) : base(nameof(BasicBlock))
        {
            this.stride = stride;
            conv1 = nn.Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false);
            bn1 = nn.BatchNorm2d(planes);
            conv2 = nn.Conv2d(planes, planes, 3, stride: 1, padding: 1, bias: false);
            bn2 = nn.BatchNorm2d(planes);
            if (stride != 1 || inPlanes != planes)
                downsample = nn.Sequential(nn.Conv2d(inPlanes, planes, 1, stride: stride, bias: false), nn.BatchNorm2d(planes));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = F.relu(bn1.call(conv1.call(x)));
            h = bn2.call(conv2.call(h));
            h = h.add_(downsample is null ? x : downsample.call(x));
            return F.relu(h).MoveToOuterDisposeScope();
        }

        public string Describe(string name, string input, List<NetworkNode> nodes)
        {
            nodes.Add(DescribeConv($"{name}.conv1", conv1, input, $"{name}.conv1", stride, 1));
            nodes.Add(DescribeBatchNorm($"{name}.bn1", bn1, $"{name}.conv1", $"{name}.bn1"));
            nodes.Add(new ReluNode($"{name}.relu1", $"{name}.bn1", $"{name}.relu1"));
            nodes.Add(DescribeConv($"{name}.conv2", conv2, $"{name}.relu1", $"{name}.conv2", 1, 1));
            nodes.Add(DescribeBatchNorm($"{name}.bn2", bn2, $"{name}.conv2", $"{name}.bn2"));
            var residual = input;
            if (downsample is not null)
            {
                var conv = (Conv2d)downsample[0];
                var bn = (BatchNorm2d)downsample[1];
                nodes.Add(DescribeConv($"{name}.downsample.0", conv, input, $"{name}.downsample.0", stride, 0));
                nodes.Add(DescribeBatchNorm($"{name}.downsample.1", bn, $"{name}.downsample.0", $"{name}.downsample.1"));
                residual = $"{name}.downsample.1";
            }
            nodes.Add(new AddNode($"{name}.add", $"{name}.bn2", residual, $"{name}.add"));
            nodes.Add(new ReluNode($"{name}.relu2", $"{name}.add", $"{name}.out"));
            return $"{name}.out";
        }
    }
}
