using System.Globalization;
using Microsoft.ML.HyperSparse.Network;
namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>
/// Checks a <see cref="NetworkDescription"/> and rewrites it into the node list the ONNX writer emits:
/// batch norms folded into their convolutions, negative zeros in weights turned into positive zeros.
/// </summary>
internal static class NetworkLowering
{
    /// <summary>Validates <paramref name="net"/> (names, parameter lengths, shapes) and returns the lowered node list.</summary>
    /// <exception cref="ArgumentException">The description is inconsistent; the message names the node.</exception>
    public static IReadOnlyList<NetworkNode> Lower(NetworkDescription net)
    {
        Validate(net);
        return FoldBatchNorms(net.Nodes.Select(NormalizeZeros).ToList());
    }

    /// <summary>
    /// Folds each batch norm into the convolution that feeds it when that convolution's output has no other reader:
    /// W' = W·γ/√(var+ε) per output channel, b' = β + (b − mean)·γ/√(var+ε). The fold is a multiply, so zeros stay zeros.
    /// </summary>
    private static List<NetworkNode> FoldBatchNorms(List<NetworkNode> nodes)
    {
        var readers = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (NetworkNode node in nodes)
            foreach (string input in Inputs(node))
                readers[input] = readers.GetValueOrDefault(input) + 1;

        var producers = new Dictionary<string, int>(StringComparer.Ordinal);
        var result = new List<NetworkNode>(nodes.Count);
        foreach (NetworkNode node in nodes)
        {
            if (node is BatchNormNode bn
                && producers.TryGetValue(bn.Input, out int index)
                && result[index] is Conv2dNode conv
                && readers[conv.Output] == 1
                && conv.Output != NetworkDescription.LogitsTensor)
            {
                result[index] = Fold(conv, bn);
                producers[bn.Output] = index;
                continue;
            }

            producers[node.Output] = result.Count;
            result.Add(node);
        }

        return result;
    }

    private static Conv2dNode Fold(Conv2dNode conv, BatchNormNode bn)
    {
        int perChannel = conv.InChannels * conv.KernelH * conv.KernelW;
        var weight = new float[conv.Weight.Length];
        var bias = new float[conv.OutChannels];
        for (int o = 0; o < conv.OutChannels; o++)
        {
            // Double precision keeps the folded values within one float rounding of the exact product.
            double factor = bn.Scale[o] / Math.Sqrt((double)bn.Var[o] + bn.Epsilon);
            for (int i = o * perChannel; i < (o + 1) * perChannel; i++)
                weight[i] = conv.Weight[i] == 0f ? 0f : (float)(conv.Weight[i] * factor);
            double convBias = conv.Bias?[o] ?? 0.0;
            bias[o] = (float)(bn.Bias[o] + (convBias - bn.Mean[o]) * factor);
        }

        return conv with { Output = bn.Output, Weight = weight, Bias = bias };
    }

    /// <summary>
    /// −0 and +0 are both "pruned", but the sparse encodings rebuild +0; making dense weights +0 too keeps every encoding
    /// bit-identical to the dense file.
    /// </summary>
    private static NetworkNode NormalizeZeros(NetworkNode node) => node switch
    {
        Conv2dNode conv when HasNegativeZero(conv.Weight) => conv with { Weight = WithoutNegativeZeros(conv.Weight) },
        LinearNode linear when HasNegativeZero(linear.Weight) => linear with { Weight = WithoutNegativeZeros(linear.Weight) },
        _ => node,
    };

    private static bool HasNegativeZero(float[] values) => values.Any(v => v == 0f && float.IsNegative(v));

    private static float[] WithoutNegativeZeros(float[] values) => values.Select(v => v == 0f ? 0f : v).ToArray();

    /// <summary>The tensors a node reads.</summary>
    public static IEnumerable<string> Inputs(NetworkNode node) =>
        node is AddNode add ? [add.Input, add.Other] : [node.Input];

    private static void Validate(NetworkDescription net)
    {
        ArgumentNullException.ThrowIfNull(net);
        if (string.IsNullOrEmpty(net.InputName))
            throw OnnxExportErrors.Network("InputName", "a non-empty tensor name", "an empty name");
        if (net.InputName is NetworkDescription.NormalizedTensor or NetworkDescription.LogitsTensor)
            throw OnnxExportErrors.Network("InputName", "a name other than the reserved tensor names", $"'{net.InputName}'");
        RequirePositive("Channels", net.Channels);
        if (net.InputChannels is { } inputChannels && inputChannels != net.Channels && inputChannels != 1)
            throw OnnxExportErrors.Network("InputChannels", $"null, 1 or Channels ({net.Channels})", inputChannels.ToString(CultureInfo.InvariantCulture));
        RequirePositive("Height", net.Height);
        RequirePositive("Width", net.Width);
        RequirePositive("ClassCount", net.ClassCount);
        if (!float.IsFinite(net.PixelScale) || net.PixelScale == 0f)
            throw OnnxExportErrors.Network("PixelScale", "a finite non-zero number", net.PixelScale.ToString("R"));
        RequireLength("Mean", net.Mean, net.Channels);
        RequireLength("Std", net.Std, net.Channels);
        if (net.Std.Any(s => !float.IsFinite(s) || s == 0f))
            throw OnnxExportErrors.Network("Std", "finite non-zero values", $"[{string.Join(", ", net.Std)}]");
        if (net.Nodes is null || net.Nodes.Count == 0)
            throw OnnxExportErrors.Network("Nodes", "at least one node", "none");

        // Shapes without the batch dimension: [C, H, W] for images, [F] for feature vectors.
        var shapes = new Dictionary<string, int[]>(StringComparer.Ordinal)
        {
            [NetworkDescription.NormalizedTensor] = [net.Channels, net.Height, net.Width],
        };
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (NetworkNode node in net.Nodes)
        {
            string subject = $"node '{node.Name}' ({node.GetType().Name})";
            if (string.IsNullOrEmpty(node.Name))
                throw OnnxExportErrors.Network($"node writing '{node.Output}'", "a non-empty node name", "an empty name");
            if (!names.Add(node.Name))
                throw OnnxExportErrors.Network(subject, "a unique node name", "a second node with that name");
            if (string.IsNullOrEmpty(node.Output) || node.Output == net.InputName || shapes.ContainsKey(node.Output))
                throw OnnxExportErrors.Network(subject, "an output tensor name not written before", $"'{node.Output}'");
            foreach (string input in Inputs(node))
                if (!shapes.ContainsKey(input))
                    throw OnnxExportErrors.Network(subject, "inputs written by earlier nodes (topological order)", $"unknown tensor '{input}'");

            shapes[node.Output] = OutputShape(node, subject, shapes);
        }

        if (!shapes.TryGetValue(NetworkDescription.LogitsTensor, out int[]? logits))
            throw OnnxExportErrors.Network("Nodes", $"a node writing '{NetworkDescription.LogitsTensor}'", "none");
        if (logits.Length != 1 || logits[0] != net.ClassCount)
            throw OnnxExportErrors.Network($"tensor '{NetworkDescription.LogitsTensor}'", $"shape [{net.ClassCount}]", $"[{string.Join(", ", logits)}]");
    }

    private static int[] OutputShape(NetworkNode node, string subject, Dictionary<string, int[]> shapes)
    {
        int[] x = shapes[node.Input];
        switch (node)
        {
            case Conv2dNode conv:
                RequirePositive($"{subject} OutChannels", conv.OutChannels);
                RequirePositive($"{subject} kernel", Math.Min(conv.KernelH, conv.KernelW));
                RequirePositive($"{subject} stride", Math.Min(conv.StrideH, conv.StrideW));
                if (conv.PadH < 0 || conv.PadW < 0)
                    throw OnnxExportErrors.Network(subject, "non-negative padding", $"{conv.PadH}x{conv.PadW}");
                if (conv.AsymmetricPads is { } convPads && (!convPads.IsNonNegative || conv.PadH != 0 || conv.PadW != 0))
                    throw OnnxExportErrors.Network(subject, "non-negative per-side pads with PadH = PadW = 0", $"pads {convPads}, PadH {conv.PadH}, PadW {conv.PadW}");
                RequireImage(subject, x, conv.InChannels);
                RequireLength($"{subject} Weight", conv.Weight, (long)conv.OutChannels * conv.InChannels * conv.KernelH * conv.KernelW);
                if (conv.Bias is not null)
                    RequireLength($"{subject} Bias", conv.Bias, conv.OutChannels);
                return [conv.OutChannels,
                    Window(subject, x[1], conv.KernelH, conv.StrideH, conv.Pads.Top + conv.Pads.Bottom),
                    Window(subject, x[2], conv.KernelW, conv.StrideW, conv.Pads.Left + conv.Pads.Right)];
            case BatchNormNode bn:
                if (x.Length is not (1 or 3))
                    throw OnnxExportErrors.Network(subject, "an input of shape [C, H, W] or [F]", $"rank {x.Length}");
                RequireLength($"{subject} Scale", bn.Scale, x[0]);
                RequireLength($"{subject} Bias", bn.Bias, x[0]);
                RequireLength($"{subject} Mean", bn.Mean, x[0]);
                RequireLength($"{subject} Var", bn.Var, x[0]);
                if (!(bn.Epsilon >= 0f) || bn.Var.Any(v => !(v + bn.Epsilon > 0f)))
                    throw OnnxExportErrors.Network(subject, "Var + Epsilon > 0 for every channel", $"Epsilon {bn.Epsilon}, min Var {bn.Var.Min()}");
                return x;
            case ReluNode:
                return x;
            case MaxPoolNode pool:
                RequireImage(subject, x, x.Length == 3 ? x[0] : -1);
                RequirePositive($"{subject} Kernel", pool.Kernel);
                RequirePositive($"{subject} Stride", pool.Stride);
                if (pool.Pad < 0 || pool.Pad * 2 > pool.Kernel)
                    throw OnnxExportErrors.Network(subject, "0 <= Pad <= Kernel/2 (ONNX rule)", pool.Pad.ToString());
                // Each side at most half the kernel (PyTorch's rule, stricter than ONNX Runtime's pad < kernel): every window
                // then holds at least one real value, so the −∞ padding never reaches the output.
                if (pool.AsymmetricPads is { } poolPads
                    && (pool.Pad != 0 || !poolPads.IsNonNegative || 2 * Math.Max(Math.Max(poolPads.Top, poolPads.Left), Math.Max(poolPads.Bottom, poolPads.Right)) > pool.Kernel))
                    throw OnnxExportErrors.Network(subject, "per-side pads from 0 to Kernel/2 with Pad = 0", $"pads {poolPads}, Pad {pool.Pad}");
                return [x[0],
                    Window(subject, x[1], pool.Kernel, pool.Stride, pool.Pads.Top + pool.Pads.Bottom),
                    Window(subject, x[2], pool.Kernel, pool.Stride, pool.Pads.Left + pool.Pads.Right)];
            case AvgPoolNode pool:
                RequireImage(subject, x, x.Length == 3 ? x[0] : -1);
                RequirePositive($"{subject} Kernel", pool.Kernel);
                RequirePositive($"{subject} Stride", pool.Stride);
                return [x[0], Window(subject, x[1], pool.Kernel, pool.Stride, 0), Window(subject, x[2], pool.Kernel, pool.Stride, 0)];
            case GlobalAvgPoolNode:
                RequireImage(subject, x, x.Length == 3 ? x[0] : -1);
                return [x[0], 1, 1];
            case FlattenNode:
                return [x.Aggregate(1, (a, b) => a * b)];
            case AddNode add:
                int[] other = shapes[add.Other];
                if (!x.SequenceEqual(other))
                    throw OnnxExportErrors.Network(subject, $"both inputs of shape [{string.Join(", ", x)}]", $"[{string.Join(", ", other)}] for '{add.Other}'");
                return x;
            case LinearNode linear:
                RequirePositive($"{subject} OutFeatures", linear.OutFeatures);
                if (x.Length != 1 || x[0] != linear.InFeatures)
                    throw OnnxExportErrors.Network(subject, $"an input of shape [{linear.InFeatures}] (flatten first)", $"[{string.Join(", ", x)}]");
                RequireLength($"{subject} Weight", linear.Weight, (long)linear.OutFeatures * linear.InFeatures);
                if (linear.Bias is not null)
                    RequireLength($"{subject} Bias", linear.Bias, linear.OutFeatures);
                return [linear.OutFeatures];
            default:
                throw OnnxExportErrors.Network(subject, "a supported node type", node.GetType().Name);
        }
    }

    /// <summary>Output size along one dimension; <paramref name="padding"/> is both sides' padding together.</summary>
    private static int Window(string subject, int size, int kernel, int stride, int padding)
    {
        int span = size + padding - kernel;
        if (span < 0)
            throw OnnxExportErrors.Network(subject, $"a kernel ({kernel}) no larger than the padded input ({size + padding})", $"input size {size}");
        return span / stride + 1;
    }

    private static void RequireImage(string subject, int[] shape, int channels)
    {
        if (shape.Length != 3 || shape[0] != channels)
            throw OnnxExportErrors.Network(subject, $"an input of shape [{(channels < 0 ? "C" : channels)}, H, W]", $"[{string.Join(", ", shape)}]");
    }

    private static void RequirePositive(string subject, int value)
    {
        if (value <= 0)
            throw OnnxExportErrors.Network(subject, "a positive value", value.ToString());
    }

    private static void RequireLength(string subject, float[]? values, long length)
    {
        if (values is null || values.LongLength != length)
            throw OnnxExportErrors.Network(subject, $"{length} values", values is null ? "null" : $"{values.LongLength}");
    }
}
