using Microsoft.ML.HyperSparse.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Engine.Models;

/// <summary>
/// The reference's CIFAR VGG-19-BN: configuration 64,64,M,128,128,M,256×4,M,512×4,M,512×4 (the ImageNet VGG's last
/// max-pool removed), each conv 3×3 pad 1 with bias, then BN and ReLU; global average pooling (the reference's
/// AvgPool2d(2) on 32×32 inputs, AvgPool2d(4) on 64×64) and a single linear classifier.
/// </summary>
internal sealed class Vgg19 : ImageClassifier
{
    private static readonly int[] Config = { 64, 64, -1, 128, 128, -1, 256, 256, 256, 256, -1, 512, 512, 512, 512, -1, 512, 512, 512, 512 };

    private readonly ModuleList<Conv2d> convs = new();
    private readonly ModuleList<BatchNorm2d> bns = new();
    private readonly Linear classifier;

    public Vgg19(ImageShape input, int classCount) : base("Vgg19", input, classCount)
    {
        var inC = input.Channels;
        int h = input.Height, w = input.Width;
        foreach (var c in Config)
        {
            if (c < 0)
            {
                h /= 2; w /= 2;
                if (h < 1 || w < 1)
                    throw new ArgumentOutOfRangeException(nameof(input), input, "VGG-19 halves the image 4 times; it needs at least 16×16 pixels.");
                continue;
            }
            convs.Add(nn.Conv2d(inC, c, 3, padding: 1, bias: true));
            bns.Add(nn.BatchNorm2d(c));
            inC = c;
        }
        classifier = nn.Linear(512, classCount);
        RegisterComponents();
        Initialize();
    }

    /// <summary>The prunable layers' names in registration order: one conv per positive <see cref="Config"/> entry, then the classifier.</summary>
    public static IReadOnlyList<string> LayerNames { get; } =
        Enumerable.Range(0, Config.Count(c => c > 0)).Select(i => $"convs.{i}").Append("classifier").ToArray();

    /// <summary>Reference init: conv N(0, √(2/(9·C_in))), bias 0; BN 1/0; linear N(0, 0.01), bias 0.</summary>
    private void Initialize()
    {
        using var _ = no_grad();
        foreach (var conv in convs)
        {
            var fanIn = conv.weight!.shape[1] * conv.weight.shape[2] * conv.weight.shape[3];
            nn.init.normal_(conv.weight, 0, Math.Sqrt(2.0 / fanIn));
            nn.init.zeros_(conv.bias!);
        }
        foreach (var bn in bns) { nn.init.ones_(bn.weight!); nn.init.zeros_(bn.bias!); }
        nn.init.normal_(classifier.weight!, 0, 0.01);
        nn.init.zeros_(classifier.bias!);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x;
        var layer = 0;
        foreach (var c in Config)
        {
            if (c < 0) { h = F.max_pool2d(h, 2, 2); continue; }
            h = F.relu(bns[layer].call(convs[layer].call(h)));
            layer++;
        }
        h = F.adaptive_avg_pool2d(h, 1).flatten(1);
        return classifier.call(h).MoveToOuterDisposeScope();
    }

    public override IReadOnlyList<NetworkNode> Describe()
    {
        var nodes = new List<NetworkNode>();
        var current = NetworkDescription.NormalizedTensor;
        int layer = 0, pool = 0;
        foreach (var c in Config)
        {
            if (c < 0)
            {
                nodes.Add(new MaxPoolNode($"pool{pool}", current, $"pool{pool}", 2, 2));
                current = $"pool{pool++}";
                continue;
            }
            nodes.Add(DescribeConv($"convs.{layer}", convs[layer], current, $"convs.{layer}", 1, 1));
            nodes.Add(DescribeBatchNorm($"bns.{layer}", bns[layer], $"convs.{layer}", $"bns.{layer}"));
            nodes.Add(new ReluNode($"relu{layer}", $"bns.{layer}", $"relu{layer}"));
            current = $"relu{layer++}";
        }
        nodes.Add(new GlobalAvgPoolNode("avgpool", current, "avgpool"));
        nodes.Add(new FlattenNode("flatten", "avgpool", "flatten"));
        nodes.Add(DescribeLinear("classifier", classifier, "flatten", NetworkDescription.LogitsTensor));
        return nodes;
    }
}
