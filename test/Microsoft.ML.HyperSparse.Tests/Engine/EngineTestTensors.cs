using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>Small helpers shared by the engine tests: building tensors from arrays and reading them back.</summary>
internal static class EngineTestTensors
{
    private static int? originalThreads;

    /// <summary>
    /// Loads TorchSharp and runs this class's tiny workloads on one intra-op thread: on the shared 2-core machine,
    /// spinning OpenMP workers made a batch-2 forward pass take seconds. <see cref="Release"/> restores the setting.
    /// </summary>
    public static void Load()
    {
        TorchRuntime.EnsureLoaded();
        originalThreads ??= get_num_threads();
        set_num_threads(1);
    }

    public static void Release()
    {
        if (originalThreads is { } n) set_num_threads(n);
    }

    public static Tensor Vector(params float[] values) => tensor(values);

    public static Tensor Shaped(float[] values, params long[] shape) => tensor(values).reshape(shape);

    public static Parameter Param(float[] values, params long[] shape) =>
        new Parameter(tensor(values).reshape(shape), requires_grad: true);

    public static float[] Values(Tensor t)
    {
        using var c = t.detach().contiguous().cpu().to_type(ScalarType.Float32).flatten();
        return c.data<float>().ToArray();
    }

    /// <summary>Flattens and concatenates the tensors' values in order.</summary>
    public static float[] Concat(IEnumerable<Tensor> tensors) => tensors.SelectMany(Values).ToArray();

    /// <summary>
    /// Two classes told apart by which half of each channel plane is bright (label 0: the first half), plus noise: pixels
    /// 200–255 in the bright half, 0–55 in the other, image i labelled i mod 2.
    /// </summary>
    public static ImageDataset BrightHalves(int count, int channels, int size, int seed)
    {
        var random = new Random(seed);
        var plane = size * size;
        var pixels = new float[count * channels * plane];
        var labels = new int[count];
        for (var i = 0; i < count; i++)
        {
            labels[i] = i % 2;
            for (var p = 0; p < channels * plane; p++)
                pixels[i * channels * plane + p] = (p % plane < plane / 2) == (labels[i] == 0) ? 200 + random.Next(56) : random.Next(56);
        }
        return new ImageDataset(pixels, labels, channels, size, size, 2);
    }

    /// <summary>Copies every parameter and buffer of <paramref name="source"/> into <paramref name="target"/> (same architecture).</summary>
    public static void CopyState(nn.Module source, nn.Module target)
    {
        using var _ = no_grad();
        var to = target.state_dict();
        foreach (var (name, t) in source.state_dict()) to[name].copy_(t);
    }

    /// <summary>Deterministic values in ±[low, high) with random signs, no two magnitudes equal (tie-free).</summary>
    public static float[] TieFree(int count, int seed, double low = 0.01, double high = 1.0)
    {
        var rng = new Random(seed);
        var step = (high - low) / count;
        var magnitudes = Enumerable.Range(0, count).Select(i => low + step * (i + 0.5)).OrderBy(_ => rng.Next()).ToArray();
        return magnitudes.Select(m => (float)(rng.Next(2) == 0 ? -m : m)).ToArray();
    }
}
