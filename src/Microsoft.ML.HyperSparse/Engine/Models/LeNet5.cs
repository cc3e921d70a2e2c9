using Microsoft.ML.HyperSparse.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Engine.Models;

/// <summary>
/// LeNet-5 (ReLU, max-pool): conv 5×5 pad 2 → 6, pool 2, conv 5×5 → 16, pool 2, then 120-84-classes fully connected.
/// On 28×28 inputs that is 61,470 prunable weights for 10 classes. PyTorch default initialisation.
/// </summary>
internal sealed class LeNet5 : ImageClassifier
{
    private readonly Conv2d conv1, conv2;
    private readonly Linear fc1, fc2, fc3;

    public LeNet5(ImageShape input, int classCount) : base("LeNet5", input, classCount)
    {
        // conv1 keeps the size (pad 2), each pool halves it, conv2 (no pad) removes 4.
        var h = input.Height / 2 - 4;
        var w = input.Width / 2 - 4;
        if (h < 2 || w < 2)
            throw new ArgumentOutOfRangeException(nameof(input), input, "LeNet-5 needs images of at least 12×12 pixels.");
        FlatFeatures = 16 * (h / 2) * (w / 2);
        conv1 = nn.Conv2d(input.Channels, 6, 5, padding: 2);
        conv2 = nn.Conv2d(6, 16, 5);
        fc1 = nn.Linear(FlatFeatures, 120);
        fc2 = nn.Linear(120, 84);
        fc3 = nn.Linear(84, classCount);
        RegisterComponents();
    }

    public int FlatFeatures { get; }

    /// <summary>The prunable layers' names in registration order.</summary>
    public static IReadOnlyList<string> LayerNames { get; } = new[] { "conv1", "conv2", "fc1", "fc2", "fc3" };

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = F.max_pool2d(F.relu(conv1.call(x)), 2, 2);
        h = F.max_pool2d(F.relu(conv2.call(h)), 2, 2).flatten(1);
        h = F.relu(fc1.call(h));
        h = F.relu(fc2.call(h));
        return fc3.call(h).MoveToOuterDisposeScope();
    }

    public override IReadOnlyList<NetworkNode> Describe() => new NetworkNode[]
    {
        DescribeConv("conv1", conv1, NetworkDescription.NormalizedTensor, "conv1", 1, 2),
        new ReluNode("relu1", "conv1", "relu1"),
        new MaxPoolNode("pool1", "relu1", "pool1", 2, 2),
        DescribeConv("conv2", conv2, "pool1", "conv2", 1, 0),
        new ReluNode("relu2", "conv2", "relu2"),
        new MaxPoolNode("pool2", "relu2", "pool2", 2, 2),
        new FlattenNode("flatten", "pool2", "flatten"),
        DescribeLinear("fc1", fc1, "flatten", "fc1"),
        new ReluNode("relu3", "fc1", "relu3"),
        DescribeLinear("fc2", fc2, "relu3", "fc2"),
        new ReluNode("relu4", "fc2", "relu4"),
        DescribeLinear("fc3", fc3, "relu4", NetworkDescription.LogitsTensor),
    };
}
