using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Tests.Onnx;

/// <summary>Small hand-made networks with seeded random weights and planted sparsity.</summary>
internal static class TestNetworks
{
    /// <summary>
    /// conv(3→8,5×5, 90%) relu maxpool conv(8→16,3×3, 98%) relu avgpool flatten linear(256→64, 98% + a 1000-long zero run)
    /// relu linear(64→10, dense). Input 3×20×20 raw 0..255 pixels.
    /// </summary>
    public static NetworkDescription LeNet(int seed = 1)
    {
        var random = new Random(seed);
        float[] fc1 = Sparse(random, 64 * 256, 0.98);
        Array.Clear(fc1, 1000, 1000); // a gap far over 255 between kept weights
        return new NetworkDescription
        {
            InputName = "image", Channels = 3, Height = 20, Width = 20, ClassCount = 10,
            PixelScale = 1f / 255, Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f],
            Nodes =
            [
                new Conv2dNode("conv1", NetworkDescription.NormalizedTensor, "c1", 8, 3, 5, 5, 1, 1, 0, 0,
                    Sparse(random, 8 * 3 * 25, 0.90), Uniform(random, 8, 0.1), Prunable: true),
                new ReluNode("relu1", "c1", "r1"),
                new MaxPoolNode("pool1", "r1", "p1", Kernel: 2, Stride: 2),
                new Conv2dNode("conv2", "p1", "c2", 16, 8, 3, 3, 1, 1, 1, 1,
                    Sparse(random, 16 * 8 * 9, 0.98), Uniform(random, 16, 0.1), Prunable: true),
                new ReluNode("relu2", "c2", "r2"),
                new AvgPoolNode("pool2", "r2", "p2", Kernel: 2, Stride: 2),
                new FlattenNode("flatten", "p2", "f"),
                new LinearNode("fc1", "f", "h1", 64, 256, fc1, Uniform(random, 64, 0.1), Prunable: true),
                new ReluNode("relu3", "h1", "h1r"),
                new LinearNode("fc2", "h1r", NetworkDescription.LogitsTensor, 10, 64,
                    Uniform(random, 640, 0.3), Uniform(random, 10, 0.1), Prunable: false),
            ],
        };
    }

    /// <summary>
    /// stem conv(3→16, 90%)+BN+relu, maxpool 3×3 pad 1; block: conv(16→32, s2, 98%)+BN+relu, conv(32→32, 90%)+BN,
    /// shortcut conv1×1(16→32, s2, all zero)+BN, Add, an unfoldable BN, relu; global avg pool, flatten, linear(32→10, dense).
    /// Input 3×12×12, pixel scale 1.
    /// </summary>
    public static NetworkDescription ResNet(int seed = 2)
    {
        var random = new Random(seed);
        return new NetworkDescription
        {
            InputName = "pixels", Channels = 3, Height = 12, Width = 12, ClassCount = 10,
            Mean = [0.5f, -0.25f, 0.125f], Std = [0.5f, 2f, 0.3f],
            Nodes =
            [
                new Conv2dNode("stem.conv", NetworkDescription.NormalizedTensor, "s.c", 16, 3, 3, 3, 1, 1, 1, 1,
                    Sparse(random, 16 * 27, 0.90), null, Prunable: true),
                BatchNorm(random, "stem.bn", "s.c", "s.b", 16),
                new ReluNode("stem.relu", "s.b", "s.r"),
                new MaxPoolNode("stem.pool", "s.r", "s.p", Kernel: 3, Stride: 1, Pad: 1),
                new Conv2dNode("block.conv1", "s.p", "b.c1", 32, 16, 3, 3, 2, 2, 1, 1,
                    Sparse(random, 32 * 16 * 9, 0.98), null, Prunable: true),
                BatchNorm(random, "block.bn1", "b.c1", "b.b1", 32),
                new ReluNode("block.relu1", "b.b1", "b.r1"),
                new Conv2dNode("block.conv2", "b.r1", "b.c2", 32, 32, 3, 3, 1, 1, 1, 1,
                    Sparse(random, 32 * 32 * 9, 0.90), Uniform(random, 32, 0.1), Prunable: true),
                BatchNorm(random, "block.bn2", "b.c2", "b.b2", 32),
                new Conv2dNode("block.down.conv", "s.p", "b.dc", 32, 16, 1, 1, 2, 2, 0, 0,
                    new float[32 * 16], null, Prunable: true),
                BatchNorm(random, "block.down.bn", "b.dc", "b.db", 32),
                new AddNode("block.add", "b.b2", "b.db", "b.sum"),
                BatchNorm(random, "block.bn3", "b.sum", "b.b3", 32),
                new ReluNode("block.relu", "b.b3", "b.out"),
                new GlobalAvgPoolNode("pool", "b.out", "g"),
                new FlattenNode("flatten", "g", "f"),
                new LinearNode("fc", "f", NetworkDescription.LogitsTensor, 10, 32,
                    Uniform(random, 320, 0.3), Uniform(random, 10, 0.1), Prunable: false),
            ],
        };
    }

    /// <summary>conv(3→64) relu then four conv(64→64, 3×3) relu, all at <paramref name="sparsity"/>; GAP, linear(64→10, dense).</summary>
    /// <summary>
    /// <see cref="ResNet"/> with CNTK-style per-side pads: the stem conv pads [1, 1, 0, 0] (12×12 → 11×11) and the max-pool
    /// [1, 0, 1, 0] (→ 11×9), so top/left and bottom/right differ and the maps become odd-sized and non-square.
    /// </summary>
    public static NetworkDescription ResNetAsymmetric(int seed = 2)
    {
        NetworkDescription net = ResNet(seed);
        return new NetworkDescription
        {
            InputName = net.InputName, Channels = net.Channels, Height = net.Height, Width = net.Width, ClassCount = net.ClassCount,
            Mean = net.Mean, Std = net.Std,
            Nodes = net.Nodes.Select(node => node switch
            {
                Conv2dNode { Name: "stem.conv" } conv => conv with { PadH = 0, PadW = 0, AsymmetricPads = new ImagePadding(1, 1, 0, 0) },
                MaxPoolNode pool => pool with { Pad = 0, AsymmetricPads = new ImagePadding(1, 0, 1, 0) },
                _ => node,
            }).ToList(),
        };
    }

    public static NetworkDescription Wide(double sparsity, int seed = 3)
    {
        var random = new Random(seed);
        var nodes = new List<NetworkNode>
        {
            new Conv2dNode("conv0", NetworkDescription.NormalizedTensor, "c0", 64, 3, 3, 3, 1, 1, 1, 1,
                Sparse(random, 64 * 27, sparsity), Uniform(random, 64, 0.1), Prunable: true),
            new ReluNode("relu0", "c0", "r0"),
        };
        for (int i = 1; i <= 4; i++)
        {
            nodes.Add(new Conv2dNode($"conv{i}", $"r{i - 1}", $"c{i}", 64, 64, 3, 3, 1, 1, 1, 1,
                Sparse(random, 64 * 64 * 9, sparsity), Uniform(random, 64, 0.1), Prunable: true));
            nodes.Add(new ReluNode($"relu{i}", $"c{i}", $"r{i}"));
        }

        nodes.Add(new GlobalAvgPoolNode("pool", "r4", "g"));
        nodes.Add(new FlattenNode("flatten", "g", "f"));
        nodes.Add(new LinearNode("fc", "f", NetworkDescription.LogitsTensor, 10, 64,
            Uniform(random, 640, 0.3), Uniform(random, 10, 0.1), Prunable: false));
        return new NetworkDescription
        {
            InputName = "image", Channels = 3, Height = 8, Width = 8, ClassCount = 10,
            PixelScale = 1f / 255, Mean = [0.5f, 0.5f, 0.5f], Std = [0.25f, 0.25f, 0.25f],
            Nodes = nodes,
        };
    }

    /// <summary>
    /// conv(3→8, 90%) whose output feeds both a BN and the Add after it, so that BN cannot be folded; flatten, linear(8·6·6→4).
    /// </summary>
    public static NetworkDescription SharedConv(int seed = 4)
    {
        var random = new Random(seed);
        return new NetworkDescription
        {
            InputName = "image", Channels = 3, Height = 6, Width = 6, ClassCount = 4,
            PixelScale = 1f / 255, Mean = [0.4f, 0.5f, 0.6f], Std = [0.2f, 0.3f, 0.25f],
            Nodes =
            [
                new Conv2dNode("conv", NetworkDescription.NormalizedTensor, "c", 8, 3, 3, 3, 1, 1, 1, 1,
                    Sparse(random, 8 * 27, 0.90), Uniform(random, 8, 0.1), Prunable: true),
                BatchNorm(random, "bn", "c", "b", 8),
                new AddNode("add", "b", "c", "s"),
                new FlattenNode("flatten", "s", "f"),
                new LinearNode("fc", "f", NetworkDescription.LogitsTensor, 4, 8 * 36,
                    Sparse(random, 4 * 288, 0.5), Uniform(random, 4, 0.1), Prunable: true),
            ],
        };
    }

    /// <summary>Raw pixel batch in 0..255, [batch, C, H, W].</summary>
    /// <summary>The tensor a layer's Conv/Gemm node reads as its weight (the writer gives weights short generated names).</summary>
    public static string WeightTensor(global::Onnx.GraphProto graph, string layer) =>
        graph.Node.Single(n => n.Name == layer && n.OpType is "Conv" or "Gemm").Input[1];

    public static float[] Pixels(NetworkDescription net, int batch, int seed = 7)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, batch * net.GraphInputChannels * net.Height * net.Width).Select(_ => (float)random.Next(256)).ToArray();
    }

    /// <summary>Uniform values in ±scale with exactly round(n·sparsity) zeros at random positions.</summary>
    public static float[] Sparse(Random random, int n, double sparsity)
    {
        float[] values = Uniform(random, n, 0.5);
        int zeros = (int)Math.Round(n * sparsity);
        foreach (int index in Enumerable.Range(0, n).OrderBy(_ => random.Next()).Take(zeros))
            values[index] = 0f;
        return values;
    }

    /// <summary>Uniform values in ±scale, never exactly zero.</summary>
    public static float[] Uniform(Random random, int n, double scale) =>
        Enumerable.Range(0, n).Select(_ => NonZero((float)((random.NextDouble() * 2 - 1) * scale))).ToArray();

    private static float NonZero(float value) => value == 0f ? 1e-3f : value;

    public static BatchNormNode BatchNorm(Random random, string name, string input, string output, int channels)
    {
        float[] scale = Enumerable.Range(0, channels).Select(_ => (float)(0.5 + random.NextDouble())).ToArray();
        scale[channels / 2] = -scale[channels / 2]; // a negative γ turns folded zeros into −0 unless the writer cleans them
        return new BatchNormNode(name, input, output, scale, Uniform(random, channels, 0.5), Uniform(random, channels, 0.5),
            Enumerable.Range(0, channels).Select(_ => (float)(0.5 + 1.5 * random.NextDouble())).ToArray(), 1e-5f);
    }
}
