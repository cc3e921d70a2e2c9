using Microsoft.ML.HyperSparse.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Engine.Models;

/// <summary>
/// CIFAR-style ResNet (He et al.) as in the paper's reference: depth 6n+2, three stages of n basic blocks of width
/// w, 2w, 4w (the reference doubles the usual 16 to 32), 1×1 conv + BN projection shortcuts where stride or width
/// changes, global average pooling and one linear classifier.
/// </summary>
internal sealed class ResNet : ImageClassifier
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly ModuleList<BasicBlock> layer1, layer2, layer3;
    private readonly Linear fc;

    public ResNet(int depth, int width, ImageShape input, int classCount) : base($"ResNet{depth}", input, classCount)
    {
        if (depth < 8 || (depth - 2) % 6 != 0)
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "ResNet depth must be 6n+2 with n ≥ 1 (8, 14, 20, 32, 44, 56, …).");
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "ResNet width must be positive.");
        Depth = depth;
        Width = width;
        var n = (depth - 2) / 6;
        conv1 = nn.Conv2d(input.Channels, width, 3, stride: 1, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(width);
        layer1 = Stage(width, width, n, 1);
        layer2 = Stage(width, 2 * width, n, 2);
        layer3 = Stage(2 * width, 4 * width, n, 2);
        fc = nn.Linear(4 * width, classCount);
        RegisterComponents();
        Initialize();
    }

    public int Depth { get; }
    public int Width { get; }

    private static ModuleList<BasicBlock> Stage(int inPlanes, int planes, int blocks, int stride)
    {
        var list = new ModuleList<BasicBlock>();
        for (var i = 0; i < blocks; i++)
            list.Add(new BasicBlock(i == 0 ? inPlanes : planes, planes, i == 0 ? stride : 1));
        return list;
    }

    /// <summary>
    /// The prunable layers' names in registration order for a depth: the stem conv, each block's two convs (plus the
    /// projection shortcut of the first block of stages 2 and 3, where stride and width change, as <see cref="Stage"/>
    /// builds them), then the classifier.
    /// </summary>
    public static IReadOnlyList<string> LayerNames(int depth)
    {
        var n = (depth - 2) / 6;
        var names = new List<string> { "conv1" };
        for (var stage = 1; stage <= 3; stage++)
            for (var i = 0; i < n; i++)
            {
                names.Add($"layer{stage}.{i}.conv1");
                names.Add($"layer{stage}.{i}.conv2");
                if (stage > 1 && i == 0) names.Add($"layer{stage}.{i}.shortcut.conv");
            }
        names.Add("fc");
        return names;
    }

    /// <summary>Reference init: conv Kaiming-normal (fan_out, ReLU); BN γ=1, β=0; linear N(0, 0.01), bias 0.</summary>
    private void Initialize()
    {
        using var _ = no_grad();
        foreach (var (_, module) in named_modules())
        {
            switch (module)
            {
                case Conv2d c: nn.init.kaiming_normal_(c.weight!, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU); break;
                case BatchNorm2d b: nn.init.ones_(b.weight!); nn.init.zeros_(b.bias!); break;
                case Linear l: nn.init.normal_(l.weight!, 0, 0.01); nn.init.zeros_(l.bias!); break;
            }
        }
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = F.relu(bn1.call(conv1.call(x)));
        foreach (var stage in new[] { layer1, layer2, layer3 })
            foreach (var block in stage)
                h = block.call(h);
        // Global average pooling over whatever spatial size is left (the reference's avg_pool2d over the full map).
        h = F.adaptive_avg_pool2d(h, 1).flatten(1);
        return fc.call(h).MoveToOuterDisposeScope();
    }

    public override IReadOnlyList<NetworkNode> Describe()
    {
        var nodes = new List<NetworkNode>
        {
            DescribeConv("conv1", conv1, NetworkDescription.NormalizedTensor, "conv1", 1, 1),
            DescribeBatchNorm("bn1", bn1, "conv1", "bn1"),
            new ReluNode("relu1", "bn1", "relu1"),
        };
        var current = "relu1";
        var stages = new[] { ("layer1", layer1), ("layer2", layer2), ("layer3", layer3) };
        foreach (var (stageName, stage) in stages)
            for (var i = 0; i < stage.Count; i++)
                current = stage[i].Describe($"{stageName}.{i}", current, nodes);
        nodes.Add(new GlobalAvgPoolNode("pool", current, "pool"));
        nodes.Add(new FlattenNode("flatten", "pool", "flatten"));
        nodes.Add(DescribeLinear("fc", fc, "flatten", NetworkDescription.LogitsTensor));
        return nodes;
    }

    /// <summary>conv3×3-BN-ReLU-conv3×3-BN, plus the shortcut, then ReLU.</summary>
    internal sealed class BasicBlock : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1, conv2;
        private readonly BatchNorm2d bn1, bn2;
        private readonly ProjectionShortcut? shortcut;
        private readonly int stride;

        public BasicBlock(int inPlanes, int planes, int stride) : base(nameof(BasicBlock))
        {
            this.stride = stride;
            conv1 = nn.Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false);
            bn1 = nn.BatchNorm2d(planes);
            conv2 = nn.Conv2d(planes, planes, 3, stride: 1, padding: 1, bias: false);
            bn2 = nn.BatchNorm2d(planes);
            if (stride != 1 || inPlanes != planes) shortcut = new ProjectionShortcut(inPlanes, planes, stride);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var h = F.relu(bn1.call(conv1.call(x)));
            h = bn2.call(conv2.call(h));
            h = h.add_(shortcut is null ? x : shortcut.call(x));
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
            if (shortcut is not null)
            {
                nodes.Add(DescribeConv($"{name}.shortcut.conv", shortcut.Conv, input, $"{name}.shortcut.conv", stride, 0));
                nodes.Add(DescribeBatchNorm($"{name}.shortcut.bn", shortcut.Bn, $"{name}.shortcut.conv", $"{name}.shortcut.bn"));
                residual = $"{name}.shortcut.bn";
            }
            nodes.Add(new AddNode($"{name}.add", $"{name}.bn2", residual, $"{name}.add"));
            nodes.Add(new ReluNode($"{name}.relu2", $"{name}.add", $"{name}.out"));
            return $"{name}.out";
        }
    }

    /// <summary>1×1 convolution (stride s, no bias) + BN, used where a block changes width or resolution.</summary>
    internal sealed class ProjectionShortcut : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv;
        private readonly BatchNorm2d bn;

        public ProjectionShortcut(int inPlanes, int planes, int stride) : base(nameof(ProjectionShortcut))
        {
            conv = nn.Conv2d(inPlanes, planes, 1, stride: stride, bias: false);
            bn = nn.BatchNorm2d(planes);
            RegisterComponents();
        }

        public Conv2d Conv => conv;
        public BatchNorm2d Bn => bn;

        public override Tensor forward(Tensor x) => bn.call(conv.call(x));
    }
}
