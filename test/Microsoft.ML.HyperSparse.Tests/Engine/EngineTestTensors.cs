using Microsoft.ML.HyperSparse.Engine.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>Small helpers shared by the engine tests: building tensors from arrays and reading them back.</summary>
internal static class EngineTestTensors
{
    public static void Load() => TorchRuntime.EnsureLoaded();

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

    /// <summary>Deterministic values in ±[low, high) with random signs, no two magnitudes equal (tie-free).</summary>
    public static float[] TieFree(int count, int seed, double low = 0.01, double high = 1.0)
    {
        var rng = new Random(seed);
        var step = (high - low) / count;
        var magnitudes = Enumerable.Range(0, count).Select(i => low + step * (i + 0.5)).OrderBy(_ => rng.Next()).ToArray();
        return magnitudes.Select(m => (float)(rng.Next(2) == 0 ? -m : m)).ToArray();
    }
}
