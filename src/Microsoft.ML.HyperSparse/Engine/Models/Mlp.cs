using Microsoft.ML.HyperSparse.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Engine.Models;

/// <summary>LeNet-300-100: the flattened image through 300 and 100 ReLU units to the classes. PyTorch default init.</summary>
internal sealed class Mlp : ImageClassifier
{
    private readonly Linear fc1, fc2, fc3;

    public Mlp(ImageShape input, int classCount) : base("Mlp", input, classCount)
    {
        fc1 = nn.Linear(input.Size, 300);
        fc2 = nn.Linear(300, 100);
        fc3 = nn.Linear(100, classCount);
        RegisterComponents();
    }

    /// <summary>The prunable layers' names in registration order.</summary>
    public static IReadOnlyList<string> LayerNames { get; } = new[] { "fc1", "fc2", "fc3" };

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = F.relu(fc1.call(x.flatten(1)));
        h = F.relu(fc2.call(h));
        return fc3.call(h).MoveToOuterDisposeScope();
    }

    public override IReadOnlyList<NetworkNode> Describe() => new NetworkNode[]
    {
        new FlattenNode("flatten", NetworkDescription.NormalizedTensor, "flatten"),
        DescribeLinear("fc1", fc1, "flatten", "fc1"),
        new ReluNode("relu1", "fc1", "relu1"),
        DescribeLinear("fc2", fc2, "relu1", "fc2"),
        new ReluNode("relu2", "fc2", "relu2"),
        DescribeLinear("fc3", fc3, "relu2", NetworkDescription.LogitsTensor),
    };
}
