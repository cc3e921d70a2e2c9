using Microsoft.ML.HyperSparse.Engine.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Engine.Pruning;

/// <summary>
/// A keep-mask per prunable layer (1 = kept, 0 = pruned), float tensors of the weights' shapes. Applying it zeroes pruned
/// weights; masking gradients keeps them at zero under SGD with momentum and weight decay (the reference's fine-tune rule).
/// </summary>
internal sealed class PruningMask : IDisposable
{
    private readonly List<(string Name, Tensor Mask)> layers;

    public PruningMask(IEnumerable<(string Name, Tensor Mask)> layers)
    {
        this.layers = layers.ToList();
    }

    public IReadOnlyList<(string Name, Tensor Mask)> Layers => layers;

    public long Total => layers.Sum(l => l.Mask.numel());

    public long Kept => layers.Sum(l => KeptIn(l.Mask));

    /// <summary>Fraction of prunable weights the mask removes.</summary>
    public double Sparsity => Total == 0 ? 0 : 1.0 - (double)Kept / Total;

    public static long KeptIn(Tensor mask)
    {
        using var nz = mask.count_nonzero();
        return nz.item<long>();
    }

    /// <summary>weight ← weight ⊙ mask, in place, for every layer (matched by name).</summary>
    public void ApplyToWeights(IReadOnlyList<PrunableLayer> prunable)
    {
        using var _ = no_grad();
        foreach (var (layer, mask) in Match(prunable)) layer.Weight.mul_(mask);
    }

    /// <summary>grad ← grad ⊙ mask, in place, for every layer that has a gradient.</summary>
    public void ApplyToGradients(IReadOnlyList<PrunableLayer> prunable)
    {
        using var _ = no_grad();
        foreach (var (layer, mask) in Match(prunable)) layer.Weight.grad?.mul_(mask);
    }

    /// <summary>A copy whose tensors are contiguous (NCHW), whatever the strides of these.</summary>
    public PruningMask ContiguousCopy()
    {
        using var scope = NewDisposeScope();
        return new(layers.Select(l => (l.Name, l.Mask.detach().contiguous().clone().MoveToOuterDisposeScope())).ToList());
    }

    public PruningMask Clone()
    {
        using var scope = NewDisposeScope();
        return new(layers.Select(l => (l.Name, l.Mask.detach().clone().MoveToOuterDisposeScope())).ToList());
    }

    private IEnumerable<(PrunableLayer Layer, Tensor Mask)> Match(IReadOnlyList<PrunableLayer> prunable)
    {
        if (prunable.Count != layers.Count)
            throw new InvalidOperationException($"The mask has {layers.Count} layers but the network has {prunable.Count} prunable layers.");
        for (var i = 0; i < layers.Count; i++)
        {
            if (prunable[i].Name != layers[i].Name)
                throw new InvalidOperationException($"Mask layer {i} is '{layers[i].Name}' but the network's is '{prunable[i].Name}'.");
            yield return (prunable[i], layers[i].Mask);
        }
    }

    public void Dispose()
    {
        foreach (var (_, mask) in layers) mask.Dispose();
        layers.Clear();
    }
}
