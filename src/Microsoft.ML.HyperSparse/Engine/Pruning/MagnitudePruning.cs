using Microsoft.ML.HyperSparse.Engine.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Engine.Pruning;

/// <summary>
/// The reference's one-shot global magnitude pruning: over the concatenated |w| of all prunable layers, the threshold is
/// the element at 0-based index k = ⌊κ·N⌋ of the ascending order, and a weight is kept when |w| &gt; τ strictly. Without
/// ties that keeps N − k − 1 weights. No per-layer quotas.
/// </summary>
internal static class MagnitudePruning
{
    /// <summary>k = ⌊κ·N⌋ in double arithmetic, as Python's math.floor(prune_rate * N).</summary>
    public static long ThresholdIndex(long count, double pruningRate)
    {
        if (pruningRate is <= 0 or >= 1 || double.IsNaN(pruningRate))
            throw new ArgumentOutOfRangeException(nameof(pruningRate), pruningRate, "The pruning rate κ must be in (0, 1).");
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "There are no prunable weights.");
        return Math.Min(count - 1, (long)Math.Floor(pruningRate * count));
    }

    /// <summary>Concatenated |w| of the given weights, detached, as one flat vector.</summary>
    public static Tensor Magnitudes(IEnumerable<Tensor> weights)
    {
        using var scope = NewDisposeScope();
        var flat = cat(weights.Select(w => w.detach().abs().flatten()).ToArray());
        return flat.MoveToOuterDisposeScope();
    }

    /// <summary>a_(k): the (k+1)-th smallest magnitude, found by selection, not a full sort.</summary>
    public static float Threshold(Tensor magnitudes, double pruningRate)
    {
        var k = ThresholdIndex(magnitudes.numel(), pruningRate);
        var (values, indices) = magnitudes.kthvalue(k + 1, 0);
        using (values)
        using (indices)
            return values.item<float>();
    }

    /// <summary>The global keep-mask |w| &gt; a_(⌊κN⌋) for the given layers' current weights.</summary>
    public static PruningMask ComputeMask(IReadOnlyList<PrunableLayer> layers, double pruningRate)
    {
        using var _ = no_grad();
        float threshold;
        using (var magnitudes = Magnitudes(layers.Select(l => (Tensor)l.Weight)))
            threshold = Threshold(magnitudes, pruningRate);
        using var scope = NewDisposeScope();
        return new PruningMask(layers.Select(l => (l.Name, l.Weight.detach().abs().gt(threshold).to_type(ScalarType.Float32).MoveToOuterDisposeScope())).ToList());
    }

    /// <summary>Computes the mask and zeroes the pruned weights in place.</summary>
    public static PruningMask Prune(IReadOnlyList<PrunableLayer> layers, double pruningRate)
    {
        var mask = ComputeMask(layers, pruningRate);
        mask.ApplyToWeights(layers);
        return mask;
    }
}
