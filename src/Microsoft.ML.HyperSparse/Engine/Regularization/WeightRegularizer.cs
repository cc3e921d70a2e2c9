using System.Numerics;
using System.Runtime.CompilerServices;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using System.Runtime.InteropServices;
using Microsoft.ML.HyperSparse.Engine.Pruning;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Engine.Regularization;

/// <summary>The regularisers ART can use: the paper's HyperSparse loss, or L1/L2 for the ablation.</summary>
internal enum RegularizerKind
{
    HyperSparse,
    L1,
    L2,
}

/// <summary>
/// A penalty on the global prunable weight vector, applied by adding λ·∂R/∂w to each weight's gradient after the
/// cross-entropy backward pass (the reference's "method 2"); equal to back-propagating CE + λ·R.
/// </summary>
internal abstract class WeightRegularizer
{
    public abstract RegularizerKind Kind { get; }

    /// <summary>∂R/∂w for each weight tensor, same shapes, computed from the current values.</summary>
    public abstract IReadOnlyList<Tensor> Gradients(IReadOnlyList<Tensor> weights);

    /// <summary>grad += λ·∂R/∂w for each weight (gradients are created when missing).</summary>
    public virtual void AddToGradients(IReadOnlyList<Tensor> weights, double lambda)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var gradients = Gradients(weights);
        for (var i = 0; i < weights.Count; i++)
        {
            var grad = weights[i].grad;
            if (grad is null) weights[i].grad = gradients[i].mul(lambda).MoveToOuterDisposeScope();
            else grad.add_(gradients[i], alpha: lambda);
        }
    }

    public static WeightRegularizer Create(RegularizerKind kind, double pruningRate) => kind switch
    {
        RegularizerKind.HyperSparse => new HyperSparseRegularizer(pruningRate),
        RegularizerKind.L1 => new L1Regularizer(),
        RegularizerKind.L2 => new L2Regularizer(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown regulariser."),
    };
}

/// <summary>
/// The HyperSparse loss of Glandorf et al. with its adaptive scale. Per mini-batch, over the global vector w of N weights:
/// s = 0.6585 / a_(⌊κN⌋) (the pruning threshold, treated as a constant), A = Σ|w|, T = Σ tanh(s|w|), and
/// ∂L/∂wᵢ = sign(wᵢ)·s·sech²(s|wᵢ|)·A/T. 0.6585 ≈ artanh(1/√3) puts the inflection of the gradient curve at the threshold:
/// weights below it get an L1-like push of at least 1, the top-(1−κ) weights almost none.
/// </summary>
internal sealed class HyperSparseRegularizer : WeightRegularizer
{
    /// <summary>artanh(1/√3) rounded as in the reference.</summary>
    public const double InflectionScale = 0.6585;

    public HyperSparseRegularizer(double pruningRate)
    {
        _ = MagnitudePruning.ThresholdIndex(1, pruningRate); // validates κ
        PruningRate = pruningRate;
    }

    public double PruningRate { get; }

    public override RegularizerKind Kind => RegularizerKind.HyperSparse;

    public override IReadOnlyList<Tensor> Gradients(IReadOnlyList<Tensor> weights)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var magnitudes = MagnitudePruning.Magnitudes(weights);
        var threshold = MagnitudePruning.Threshold(magnitudes, PruningRate);
        // With more than κN exact zeros the threshold is 0 and s is infinite; the limit of s·sech²(s·a) is 0 for a > 0
        // and sign(0) = 0, so a tiny positive threshold gives the limit without NaN.
        var s = InflectionScale / Math.Max(threshold, 1e-30);
        var tanh = magnitudes.mul(s).tanh_();
        var sumAbs = magnitudes.sum(ScalarType.Float64).item<double>();
        var sumTanh = tanh.sum(ScalarType.Float64).item<double>();
        var ratio = sumTanh > 0 ? sumAbs / sumTanh : 0;
        // coefficient_i = s·(1 − tanh²(s|w_i|))·A/T
        var coefficient = tanh.pow_(2).neg_().add_(1).mul_(s * ratio);
        var result = new List<Tensor>(weights.Count);
        long offset = 0;
        foreach (var w in weights)
        {
            var n = w.numel();
            result.Add(coefficient.narrow(0, offset, n).view(w.shape).mul(w.detach().sign()).MoveToOuterDisposeScope());
            offset += n;
        }
        return result;
    }

    // Work buffers of the CPU path, kept between mini-batches (one regulariser per training run).
    private float[] _values = Array.Empty<float>();
    private float[] _selection = Array.Empty<float>();

    // The last threshold and the relative half-width of the bracket tried around it at the next mini-batch.
    private float _lastThreshold = float.NaN;
    private float _bracket = InitialBracket;
    private const float InitialBracket = 0.02f, MinBracket = 0.005f, MaxBracket = 0.5f;

    /// <summary>Mini-batches whose threshold came from the bracket around the previous one (for tests and profiling).</summary>
    internal int BracketHits { get; private set; }

    /// <summary>Mini-batches whose threshold needed the full selection.</summary>
    internal int FullSelections { get; private set; }

    /// <summary>
    /// grad += λ·∂L_HS/∂w. On the engine's tensors (CPU, float32, contiguous — always the case in training) this runs as
    /// a few vectorised passes over the weights' memory: |w| into one buffer, the exact threshold by
    /// <see cref="MagnitudeSelection"/> (first in a narrow bracket around the previous mini-batch's threshold — one pass —
    /// and by the full radix selection when it is not there), Σ|w|, one fused tanh-and-sum pass, then the update of each
    /// gradient in place. That is the same
    /// formula as <see cref="Gradients"/> (tested to agree within float rounding), without ~35 tensor calls and a
    /// kthvalue per mini-batch. Other tensors take <see cref="Gradients"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // once per mini-batch: no slow tier-0 start
    public override void AddToGradients(IReadOnlyList<Tensor> weights, double lambda)
    {
        if (!OnCpuPath(weights))
        {
            base.AddToGradients(weights, lambda);
            return;
        }
        long total = 0;
        foreach (var w in weights) total += w.numel();
        if (total > Array.MaxLength) { base.AddToGradients(weights, lambda); return; }
        var n = (int)total;
        if (_values.Length < n) { _values = new float[n]; _selection = new float[n]; }
        var values = _values.AsSpan(0, n);

        // |w| of all weights as one vector.
        var offset = 0;
        foreach (var w in weights)
        {
            var source = MemoryMarshal.Cast<byte, float>(w.bytes);
            TensorPrimitives.Abs(source, values.Slice(offset, source.Length));
            offset += source.Length;
        }
        var threshold = Threshold(values, MagnitudePruning.ThresholdIndex(n, PruningRate), _selection.AsSpan(0, n));

        // As in Gradients: a zero threshold (more than κN exact zeros) uses a tiny positive one, giving the limit 0.
        var s = InflectionScale / Math.Max(threshold, 1e-30);
        double sumAbs = TensorPrimitives.Sum<float>(values);
        var sumTanh = ScaledTanhInPlace(values, (float)s);
        var ratio = sumTanh > 0 ? sumAbs / sumTanh : 0;
        // grad_i += λ·s·(A/T)·(1 − tanh²(s|w_i|))·sign(w_i)
        var scale = (float)(lambda * s * ratio);

        using var _ = no_grad();
        offset = 0;
        foreach (var w in weights)
        {
            var weight = MemoryMarshal.Cast<byte, float>(w.bytes);
            var grad = w.grad;
            if (grad is null) w.grad = grad = zeros_like(w).DetachFromDisposeScope();
            AddTerm(MemoryMarshal.Cast<byte, float>(grad.bytes), weight, values.Slice(offset, weight.Length), scale);
            offset += weight.Length;
        }
    }

    /// <summary>
    /// The exact (k+1)-th smallest magnitude. SGD moves the threshold a little per mini-batch, so the bracket
    /// [τ_prev·(1 − b), τ_prev·(1 + b)] usually holds it; the bracket narrows while it hits and widens after a miss.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // once per mini-batch: no slow tier-0 start
    private float Threshold(ReadOnlySpan<float> values, long k, Span<float> scratch)
    {
        var high = _lastThreshold * (1 + _bracket); // NaN before the first mini-batch, ∞ past float's range: no bracket then
        if (_lastThreshold >= 0 && float.IsFinite(high)
            && MagnitudeSelection.TryKthSmallestInRange(values, k, _lastThreshold * (1 - _bracket), high, scratch, out var hinted))
        {
            BracketHits++;
            _bracket = Math.Max(MinBracket, _bracket * 0.9f);
            _lastThreshold = hinted;
            return hinted;
        }
        FullSelections++;
        if (float.IsFinite(_lastThreshold)) _bracket = Math.Min(MaxBracket, _bracket * 2);
        _lastThreshold = MagnitudeSelection.KthSmallest(values, k, scratch);
        return _lastThreshold;
    }

    /// <summary>
    /// a ← tanh(s·a) for a ≥ 0, as (1 − e)/(1 + e) with e = exp(−2·s·a) ∈ (0, 1] (no overflow; absolute error ≈ 1e-7), and
    /// returns Σ tanh. One fused pass with the runtime's vector exp: TensorPrimitives.Tanh spent its first ~20 calls in tier-0
    /// code at ≈ 4 ms for LeNet-5's 61,470 weights (≈ 0.2 ms once re-compiled, after ~75 calls), which showed in every short run.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double ScaledTanhInPlace(Span<float> values, float s)
    {
        var i = 0;
        double total = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= Vector<float>.Count)
        {
            var one = Vector<float>.One;
            var minusTwoS = new Vector<float>(-2 * s);
            var sum = Vector<float>.Zero;
            var blocks = MemoryMarshal.Cast<float, Vector<float>>(values);
            for (var b = 0; b < blocks.Length; b++)
            {
                var e = Vector.Exp(blocks[b] * minusTwoS);
                var t = (one - e) / (one + e);
                blocks[b] = t;
                sum += t;
            }
            total = Vector.Sum(sum);
            i = blocks.Length * Vector<float>.Count;
        }
        for (; i < values.Length; i++)
        {
            var e = MathF.Exp(-2 * s * values[i]);
            values[i] = (1 - e) / (1 + e);
            total += values[i];
        }
        return total;
    }

    /// <summary>grad += scale·(1 − t²)·sign(w), element by element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // once per mini-batch: no slow tier-0 start
    private static void AddTerm(Span<float> grad, ReadOnlySpan<float> weight, ReadOnlySpan<float> tanh, float scale)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && grad.Length >= Vector<float>.Count)
        {
            var one = Vector<float>.One;
            var zero = Vector<float>.Zero;
            var factor = new Vector<float>(scale);
            var g = MemoryMarshal.Cast<float, Vector<float>>(grad);
            var wv = MemoryMarshal.Cast<float, Vector<float>>(weight);
            var tv = MemoryMarshal.Cast<float, Vector<float>>(tanh);
            for (var v = 0; v < g.Length; v++)
            {
                var t = tv[v];
                var sign = Vector.ConditionalSelect(Vector.GreaterThan(wv[v], zero), one, zero)
                         - Vector.ConditionalSelect(Vector.LessThan(wv[v], zero), one, zero);
                g[v] += (one - t * t) * factor * sign;
            }
            i = g.Length * Vector<float>.Count;
        }
        for (; i < grad.Length; i++)
            grad[i] += (1f - tanh[i] * tanh[i]) * scale * MathF.Sign(weight[i]);
    }

    private static bool OnCpuPath(IReadOnlyList<Tensor> weights)
    {
        foreach (var w in weights)
        {
            if (w.device_type != DeviceType.CPU || w.dtype != ScalarType.Float32 || !w.is_contiguous()) return false;
            var grad = w.grad;
            if (grad is not null && (grad.device_type != DeviceType.CPU || grad.dtype != ScalarType.Float32 || !grad.is_contiguous() ||
                                     !grad.shape.SequenceEqual(w.shape)))
                return false;
        }
        return weights.Count > 0;
    }
}

/// <summary>R = Σ|w|; ∂R/∂w = sign(w).</summary>
internal sealed class L1Regularizer : WeightRegularizer
{
    public override RegularizerKind Kind => RegularizerKind.L1;

    public override IReadOnlyList<Tensor> Gradients(IReadOnlyList<Tensor> weights)
    {
        using var _ = no_grad();
        return weights.Select(w => w.detach().sign()).ToList();
    }
}

/// <summary>R = Σw² (no ½, as the reference's lx_loss with p = 2); ∂R/∂w = 2w.</summary>
internal sealed class L2Regularizer : WeightRegularizer
{
    public override RegularizerKind Kind => RegularizerKind.L2;

    public override IReadOnlyList<Tensor> Gradients(IReadOnlyList<Tensor> weights)
    {
        using var _ = no_grad();
        return weights.Select(w => w.detach().mul(2)).ToList();
    }
}
