using Microsoft.ML.HyperSparse.Onnx;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Tests.Onnx;

/// <summary>
/// A deliberately naive forward pass of a <see cref="NetworkDescription"/> (no BN folding, loops over every index),
/// to check what the ONNX graph computes. One sample at a time; tensors are flat arrays with a [C, H, W] or [F] shape.
/// </summary>
internal static class ReferenceForward
{
    /// <summary>Logits for every sample of a [batch, C, H, W] raw-pixel array: [batch][ClassCount].</summary>
    public static float[][] Logits(NetworkDescription net, float[] pixels, int batch)
    {
        int sampleSize = net.Channels * net.Height * net.Width;
        return Enumerable.Range(0, batch).Select(b => Sample(net, pixels.AsSpan(b * sampleSize, sampleSize))).ToArray();
    }

    /// <summary>Softmax of each row.</summary>
    public static float[][] Softmax(float[][] logits) => logits.Select(row =>
    {
        double max = row.Max();
        double[] e = row.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => (float)(v / sum)).ToArray();
    }).ToArray();

    private sealed record Tensor(float[] Data, int[] Shape);

    private static float[] Sample(NetworkDescription net, ReadOnlySpan<float> pixels)
    {
        int plane = net.Height * net.Width;
        var normalized = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++)
        {
            int c = i / plane;
            normalized[i] = (pixels[i] * net.PixelScale - net.Mean[c]) / net.Std[c];
        }

        var tensors = new Dictionary<string, Tensor>
        {
            [NetworkDescription.NormalizedTensor] = new(normalized, [net.Channels, net.Height, net.Width]),
        };
        foreach (NetworkNode node in net.Nodes)
            tensors[node.Output] = Apply(node, tensors[node.Input], tensors);
        return tensors[NetworkDescription.LogitsTensor].Data;
    }

    private static Tensor Apply(NetworkNode node, Tensor x, Dictionary<string, Tensor> tensors) => node switch
    {
        Conv2dNode conv => Conv(conv, x),
        BatchNormNode bn => BatchNorm(bn, x),
        ReluNode => new(x.Data.Select(v => Math.Max(v, 0f)).ToArray(), x.Shape),
        MaxPoolNode pool => Pool(x, pool.Kernel, pool.Stride, pool.Pads, max: true),
        AvgPoolNode pool => Pool(x, pool.Kernel, pool.Stride, default, max: false),
        GlobalAvgPoolNode => GlobalAverage(x),
        FlattenNode => new(x.Data, [x.Data.Length]),
        AddNode add => new(x.Data.Zip(tensors[add.Other].Data, (a, b) => a + b).ToArray(), x.Shape),
        LinearNode linear => Linear(linear, x),
        _ => throw new NotSupportedException(node.GetType().Name),
    };

    private static Tensor Conv(Conv2dNode conv, Tensor x)
    {
        int inH = x.Shape[1], inW = x.Shape[2];
        ImagePadding pads = conv.Pads;
        int outH = (inH + pads.Top + pads.Bottom - conv.KernelH) / conv.StrideH + 1;
        int outW = (inW + pads.Left + pads.Right - conv.KernelW) / conv.StrideW + 1;
        var y = new float[conv.OutChannels * outH * outW];
        for (int o = 0; o < conv.OutChannels; o++)
        for (int oy = 0; oy < outH; oy++)
        for (int ox = 0; ox < outW; ox++)
        {
            double sum = conv.Bias?[o] ?? 0;
            for (int i = 0; i < conv.InChannels; i++)
            for (int ky = 0; ky < conv.KernelH; ky++)
            for (int kx = 0; kx < conv.KernelW; kx++)
            {
                int iy = oy * conv.StrideH - pads.Top + ky, ix = ox * conv.StrideW - pads.Left + kx;
                if (iy < 0 || iy >= inH || ix < 0 || ix >= inW)
                    continue;
                sum += (double)conv.Weight[((o * conv.InChannels + i) * conv.KernelH + ky) * conv.KernelW + kx]
                       * x.Data[(i * inH + iy) * inW + ix];
            }

            y[(o * outH + oy) * outW + ox] = (float)sum;
        }

        return new(y, [conv.OutChannels, outH, outW]);
    }

    private static Tensor BatchNorm(BatchNormNode bn, Tensor x)
    {
        int perChannel = x.Data.Length / x.Shape[0];
        var y = new float[x.Data.Length];
        for (int i = 0; i < y.Length; i++)
        {
            int c = i / perChannel;
            y[i] = (float)((x.Data[i] - (double)bn.Mean[c]) / Math.Sqrt((double)bn.Var[c] + bn.Epsilon) * bn.Scale[c] + bn.Bias[c]);
        }

        return new(y, x.Shape);
    }

    private static Tensor Pool(Tensor x, int kernel, int stride, ImagePadding pads, bool max)
    {
        int channels = x.Shape[0], inH = x.Shape[1], inW = x.Shape[2];
        int outH = (inH + pads.Top + pads.Bottom - kernel) / stride + 1, outW = (inW + pads.Left + pads.Right - kernel) / stride + 1;
        var y = new float[channels * outH * outW];
        for (int c = 0; c < channels; c++)
        for (int oy = 0; oy < outH; oy++)
        for (int ox = 0; ox < outW; ox++)
        {
            double acc = max ? double.NegativeInfinity : 0;
            for (int ky = 0; ky < kernel; ky++)
            for (int kx = 0; kx < kernel; kx++)
            {
                int iy = oy * stride - pads.Top + ky, ix = ox * stride - pads.Left + kx;
                if (iy < 0 || iy >= inH || ix < 0 || ix >= inW)
                    continue; // padding never wins a max; average pools here have no padding
                double v = x.Data[(c * inH + iy) * inW + ix];
                acc = max ? Math.Max(acc, v) : acc + v;
            }

            y[(c * outH + oy) * outW + ox] = (float)(max ? acc : acc / (kernel * kernel));
        }

        return new(y, [channels, outH, outW]);
    }

    private static Tensor GlobalAverage(Tensor x)
    {
        int plane = x.Shape[1] * x.Shape[2];
        var y = new float[x.Shape[0]];
        for (int c = 0; c < y.Length; c++)
        {
            double sum = 0;
            for (int i = 0; i < plane; i++)
                sum += x.Data[c * plane + i];
            y[c] = (float)(sum / plane);
        }

        return new(y, [x.Shape[0], 1, 1]);
    }

    private static Tensor Linear(LinearNode linear, Tensor x)
    {
        var y = new float[linear.OutFeatures];
        for (int o = 0; o < linear.OutFeatures; o++)
        {
            double sum = linear.Bias?[o] ?? 0;
            for (int i = 0; i < linear.InFeatures; i++)
                sum += (double)linear.Weight[o * linear.InFeatures + i] * x.Data[i];
            y[o] = (float)sum;
        }

        return new(y, [linear.OutFeatures]);
    }
}
