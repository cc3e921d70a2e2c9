using System.Globalization;
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

    /// <summary>
    /// The global keep-mask |w| &gt; a_(⌊κN⌋) for the given layers' current weights; with <paramref name="minimumPerLayer"/>
    /// &gt; 0, then <see cref="KeepMinimumPerLayer"/> (0 = the paper's rule, no per-layer quotas).
    /// </summary>
    public static PruningMask ComputeMask(IReadOnlyList<PrunableLayer> layers, double pruningRate, int minimumPerLayer = 0)
    {
        if (minimumPerLayer < 0) throw new ArgumentOutOfRangeException(nameof(minimumPerLayer), minimumPerLayer, "The minimum of kept weights per layer must be ≥ 0.");
        using var _ = no_grad();
        float threshold;
        using (var magnitudes = Magnitudes(layers.Select(l => (Tensor)l.Weight)))
            threshold = Threshold(magnitudes, pruningRate);
        using var scope = NewDisposeScope();
        var mask = new PruningMask(layers.Select(l => (l.Name, l.Weight.detach().abs().gt(threshold).to_type(ScalarType.Float32).MoveToOuterDisposeScope())).ToList());
        if (minimumPerLayer > 0) KeepMinimumPerLayer(mask, layers, minimumPerLayer);
        return mask;
    }

    /// <summary>Computes the mask and zeroes the pruned weights in place.</summary>
    public static PruningMask Prune(IReadOnlyList<PrunableLayer> layers, double pruningRate, int minimumPerLayer = 0)
    {
        var mask = ComputeMask(layers, pruningRate, minimumPerLayer);
        mask.ApplyToWeights(layers);
        return mask;
    }

    /// <summary>
    /// Not in the paper: at high κ the global rule can prune a whole layer, which disconnects the network (layer collapse).
    /// This step gives every layer at least min(<paramref name="minimum"/>, its size) kept weights — its largest-magnitude
    /// pruned ones — and pays for them by pruning the same number of the smallest-magnitude kept weights of layers that stay
    /// above their minimum. The total kept count is therefore the global rule's, and a layer the rule left above the minimum
    /// only loses weights the global ranking already placed lowest among the kept. Changes <paramref name="mask"/> in place.
    /// Throws when the minimum needs more weights than the global rule keeps.
    /// </summary>
    public static void KeepMinimumPerLayer(PruningMask mask, IReadOnlyList<PrunableLayer> layers, int minimum)
    {
        ArgumentNullException.ThrowIfNull(mask);
        ArgumentNullException.ThrowIfNull(layers);
        if (minimum < 0) throw new ArgumentOutOfRangeException(nameof(minimum), minimum, "The minimum of kept weights per layer must be ≥ 0.");
        if (mask.Layers.Count != layers.Count)
            throw new ArgumentException($"The mask has {mask.Layers.Count} layers but {layers.Count} layers were given.", nameof(layers));
        var kept = mask.Layers.Select(l => PruningMask.KeptIn(l.Mask)).ToArray();
        var required = layers.Select(l => Math.Min(minimum, l.Count)).ToArray();
        CheckMinimumPerLayer(kept.Sum(), required.Sum(), minimum, layers.Count);
        if (kept.Zip(required).All(p => p.First >= p.Second)) return;

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var flatMasks = mask.Layers.Select(l => l.Mask.view(-1)).ToArray();   // views: writing them writes the mask
        var magnitudes = layers.Select(l => l.Weight.detach().abs().flatten()).ToArray();
        long added = 0;
        for (var i = 0; i < layers.Count; i++)
        {
            if (kept[i] >= required[i]) continue;
            // The largest pruned magnitudes of this layer (kept entries ranked below every pruned one).
            var candidates = magnitudes[i].masked_fill(flatMasks[i].gt(0), -1f);
            var (_, indices) = candidates.topk((int)(required[i] - kept[i]));
            flatMasks[i].index_fill_(0, indices, 1f);
            added += required[i] - kept[i];
        }

        // Candidates to give back: per layer above its minimum, its smallest kept magnitudes, no more than the surplus.
        var values = new List<Tensor>();
        var owners = new List<(int Layer, long[] Indices)>();
        for (var i = 0; i < layers.Count; i++)
        {
            var surplus = kept[i] - required[i];
            if (surplus <= 0) continue;
            var candidates = magnitudes[i].masked_fill(flatMasks[i].eq(0), float.PositiveInfinity);
            var (smallest, indices) = candidates.topk((int)Math.Min(surplus, added), largest: false);
            values.Add(smallest);
            owners.Add((i, indices.data<long>().ToArray()));
        }
        var (_, chosen) = cat(values.ToArray()).topk((int)added, largest: false);
        var removed = owners.Select(_ => new List<long>()).ToArray();
        foreach (var position in chosen.data<long>().ToArray())
        {
            long offset = 0;
            var j = 0;
            while (position >= offset + owners[j].Indices.Length) offset += owners[j++].Indices.Length;
            removed[j].Add(owners[j].Indices[position - offset]);
        }
        for (var j = 0; j < owners.Count; j++)
            if (removed[j].Count > 0) flatMasks[owners[j].Layer].index_fill_(0, tensor(removed[j].ToArray()), 0f);
    }

    /// <summary>The number of weights the strict rule keeps: N − k − 1 (no ties).</summary>
    public static long KeptCount(long count, double pruningRate) => count - ThresholdIndex(count, pruningRate) - 1;

    /// <summary>
    /// The largest κ (a double) for which <see cref="KeptCount"/> is ≥ 1, i.e. ⌊κ·N⌋ ≤ N − 2; null when N &lt; 2 (no κ in
    /// (0, 1) keeps a weight). Starts at (N − 1)/N and steps down one double at a time, because κ·N is rounded in double
    /// arithmetic and can land on N − 1 exactly although κ &lt; (N − 1)/N.
    /// </summary>
    public static double? LargestRateKeepingAWeight(long count)
    {
        if (count < 2) return null;
        var rate = (double)(count - 1) / count;
        while (KeptCount(count, rate) < 1) rate = Math.BitDecrement(rate);
        return rate;
    }

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> (parameter "PruningRate", the public option's name) when κ keeps no
    /// weight at all: every layer would collapse and the network would no longer depend on its input.
    /// </summary>
    public static void CheckKeepsAWeight(long count, double pruningRate)
    {
        if (KeptCount(count, pruningRate) >= 1) return;
        var largest = LargestRateKeepingAWeight(count);
        var expected = largest is { } r
            ? string.Create(CultureInfo.InvariantCulture,
                $"expected κ < (N − 1)/N = {count - 1:N0}/{count:N0}, i.e. κ ≤ {r:R} (the largest κ that keeps 1 weight)")
            : string.Create(CultureInfo.InvariantCulture, $"no κ in (0, 1) keeps a weight of {count:N0}");
        throw new ArgumentOutOfRangeException("PruningRate", pruningRate, string.Create(CultureInfo.InvariantCulture,
            $"The pruning rate κ = {pruningRate:R} keeps 0 of {count:N0} prunable weights ({count:N0} − ⌊κ·{count:N0}⌋ − 1); {expected}. Lower PruningRate."));
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> when the per-layer minimum needs more weights than κ keeps.</summary>
    public static void CheckMinimumPerLayer(long keptByRule, long required, int minimum, int layerCount)
    {
        if (required > keptByRule)
            throw new ArgumentOutOfRangeException("MinWeightsPerLayer", minimum,
                $"MinWeightsPerLayer {minimum} needs {required:N0} kept weights over {layerCount} layers, but the pruning rate keeps only {keptByRule:N0}; lower MinWeightsPerLayer or the pruning rate.");
    }
}
