using System.Numerics;
using System.Runtime.CompilerServices;
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

    /// <summary>
    /// Floats per piece of the CPU path's passes. The pieces are cut from the weight tensors by this length alone, so every
    /// sum is added up in the same order — and the result is the same to the bit — whatever the number of threads.
    /// </summary>
    internal const int PieceLength = 1 << 16;

    // Work buffers of the CPU path, kept between mini-batches (one regulariser per training run).
    private float[] _values = Array.Empty<float>();
    private float[] _selection = Array.Empty<float>();
    private Piece[] _pieces = Array.Empty<Piece>();
    private long[] _layout = Array.Empty<long>();
    private PieceSums[] _sums = Array.Empty<PieceSums>();

    /// <summary>Elements [Start, Start + Length) of weight tensor <c>Tensor</c>, at <c>Offset</c> in the global vector.</summary>
    private readonly record struct Piece(int Tensor, int Start, int Length, int Offset);

    /// <summary>What one piece contributes: Σ|w|, Σ tanh, and its values below / inside the threshold bracket.</summary>
    private struct PieceSums
    {
        public double Abs, Tanh;
        public int Below, AtMostHigh, Inside;
    }

    // The last threshold and the relative half-width of the bracket tried around it at the next mini-batch.
    private float _lastThreshold = float.NaN;
    private float _bracket = InitialBracket;
    private const float InitialBracket = 0.02f, MinBracket = 0.005f, MaxBracket = 0.5f;

    /// <summary>Mini-batches whose threshold came from the bracket around the previous one (for tests and profiling).</summary>
    internal int BracketHits { get; private set; }

    /// <summary>Mini-batches whose threshold needed the full selection.</summary>
    internal int FullSelections { get; private set; }

    /// <summary>
    /// Threads of the CPU path's passes: <see langword="null"/> (the default) uses libtorch's intra-op thread count, as the
    /// rest of the step does. Any value gives the same result to the bit (tested); only the time changes.
    /// </summary>
    internal int? Threads { get; set; }

    /// <summary>
    /// grad += λ·∂L_HS/∂w. On the engine's tensors (CPU, float32, dense: contiguous, or channels-last with a gradient of the
    /// same layout — always the case in training) this runs as
    /// three passes over the weights' memory, each split into pieces of <see cref="PieceLength"/> floats that run on
    /// libtorch's thread count: (1) |w| into one buffer, its sum, and the count of values below and inside a narrow bracket
    /// around the previous mini-batch's threshold; (2) the exact threshold — from the few values inside the bracket, or by
    /// the full radix selection of <see cref="MagnitudeSelection"/> when it is not there — then tanh(s|w|) in place and its
    /// sum; (3) the update of each gradient in place. Sums are kept per piece in double and added in piece order. That is the
    /// same formula as <see cref="Gradients"/> (tested to agree within float rounding), without ~35 tensor calls and a
    /// kthvalue per mini-batch. Other tensors take <see cref="Gradients"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // once per mini-batch: no slow tier-0 start
    public override unsafe void AddToGradients(IReadOnlyList<Tensor> weights, double lambda)
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
        var pieces = PiecesFor(weights);
        var threads = Math.Max(1, Threads ?? torch.get_num_threads());

        using var _ = no_grad();
        // The tensors' memory (native, never moved by the GC) as addresses the parallel passes can share.
        var weightAt = new nint[weights.Count];
        var gradAt = new nint[weights.Count];
        for (var i = 0; i < weights.Count; i++)
        {
            var w = weights[i];
            var grad = w.grad;
            // zeros_like keeps the weight's strides, so a new gradient is laid out as its weight.
            if (grad is null) w.grad = grad = zeros_like(w).DetachFromDisposeScope();
            weightAt[i] = Address(w);
            gradAt[i] = Address(grad);
        }

        fixed (float* valuesAt = _values)
        fixed (float* selectionAt = _selection)
        {
            var values = (nint)valuesAt;
            var selection = (nint)selectionAt;
            var sums = _sums;
            // The bracket around the previous threshold: NaN before the first mini-batch, ∞ past float's range — no bracket
            // then, and an empty one (−1, −1) makes pass 1 count nothing.
            var high = _lastThreshold * (1 + _bracket);
            var bracketed = _lastThreshold >= 0 && float.IsFinite(high);
            var low = bracketed ? _lastThreshold * (1 - _bracket) : -1f;
            if (!bracketed) high = -1f;

            // Pass 1: |w|, Σ|w| and the bracket counts, piece by piece.
            ForEachPiece(pieces.Length, threads, p =>
            {
                var piece = pieces[p];
                var source = new ReadOnlySpan<float>((float*)weightAt[piece.Tensor] + piece.Start, piece.Length);
                var destination = new Span<float>((float*)values + piece.Offset, piece.Length);
                var inside = new Span<float>((float*)selection + piece.Offset, piece.Length);
                AbsSumAndCount(source, destination, low, high, inside, ref sums[p]);
            });
            double sumAbs = 0;
            long below = 0, atMostHigh = 0;
            for (var p = 0; p < pieces.Length; p++)
            {
                sumAbs += sums[p].Abs;
                below += sums[p].Below;
                atMostHigh += sums[p].AtMostHigh;
            }
            var k = MagnitudePruning.ThresholdIndex(n, PruningRate);
            float threshold;
            if (bracketed && k >= below && k < atMostHigh)
            {
                // The few values inside the bracket, gathered at the front of the selection buffer (each piece wrote its own
                // at its offset, which is never before the gathered end), then selected from exactly.
                var all = new Span<float>((float*)selection, n);
                var gathered = 0;
                for (var p = 0; p < pieces.Length; p++)
                {
                    all.Slice(pieces[p].Offset, sums[p].Inside).CopyTo(all[gathered..]);
                    gathered += sums[p].Inside;
                }
                var candidates = all[..gathered];
                threshold = MagnitudeSelection.KthSmallest(candidates, k - below, candidates);
                BracketHits++;
                _bracket = Math.Max(MinBracket, _bracket * 0.9f);
            }
            else
            {
                FullSelections++;
                if (float.IsFinite(_lastThreshold)) _bracket = Math.Min(MaxBracket, _bracket * 2);
                threshold = MagnitudeSelection.KthSmallest(new ReadOnlySpan<float>((float*)values, n), k, new Span<float>((float*)selection, n));
            }
            _lastThreshold = threshold;

            // As in Gradients: a zero threshold (more than κN exact zeros) uses a tiny positive one, giving the limit 0.
            var s = InflectionScale / Math.Max(threshold, 1e-30);
            var scaleS = (float)s;
            // Pass 2: tanh(s|w|) in place and its sum.
            ForEachPiece(pieces.Length, threads, p =>
            {
                var piece = pieces[p];
                sums[p].Tanh = ScaledTanhInPlace(new Span<float>((float*)values + piece.Offset, piece.Length), scaleS);
            });
            double sumTanh = 0;
            for (var p = 0; p < pieces.Length; p++) sumTanh += sums[p].Tanh;
            var ratio = sumTanh > 0 ? sumAbs / sumTanh : 0;
            // Pass 3: grad_i += λ·s·(A/T)·(1 − tanh²(s|w_i|))·sign(w_i)
            var scale = (float)(lambda * s * ratio);
            ForEachPiece(pieces.Length, threads, p =>
            {
                var piece = pieces[p];
                AddTerm(new Span<float>((float*)gradAt[piece.Tensor] + piece.Start, piece.Length),
                    new ReadOnlySpan<float>((float*)weightAt[piece.Tensor] + piece.Start, piece.Length),
                    new ReadOnlySpan<float>((float*)values + piece.Offset, piece.Length), scale);
            });
        }
        GC.KeepAlive(weights);
    }

    /// <summary>How a tensor's elements lie in memory, for the CPU path: the path works on memory order, so a weight and its
    /// gradient only need the same layout, and both must be dense.</summary>
    private enum MemoryLayout { Other, Contiguous, ChannelsLast }

    private static MemoryLayout LayoutOf(Tensor t)
    {
        if (t.is_contiguous()) return MemoryLayout.Contiguous;
        if (t.dim() != 4) return MemoryLayout.Other;
        using var nhwc = t.permute(0, 2, 3, 1);
        return nhwc.is_contiguous() ? MemoryLayout.ChannelsLast : MemoryLayout.Other;
    }

    /// <summary>The address of a dense tensor's first element (its memory is native and does not move).</summary>
    private static unsafe nint Address(Tensor t)
    {
        if (t.is_contiguous()) return (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
        // Channels-last: the NHWC permutation is contiguous and starts at the same element.
        using var nhwc = t.permute(0, 2, 3, 1);
        return (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(nhwc.bytes));
    }

    /// <summary>The pieces of these weights' shapes (cut once per layout and kept).</summary>
    private Piece[] PiecesFor(IReadOnlyList<Tensor> weights)
    {
        var same = _layout.Length == weights.Count;
        for (var i = 0; same && i < weights.Count; i++) same = _layout[i] == weights[i].numel();
        if (same) return _pieces;
        var layout = new long[weights.Count];
        var pieces = new List<Piece>();
        var offset = 0;
        for (var i = 0; i < weights.Count; i++)
        {
            var count = (int)weights[i].numel();
            layout[i] = count;
            for (var start = 0; start < count; start += PieceLength)
            {
                var length = Math.Min(PieceLength, count - start);
                pieces.Add(new Piece(i, start, length, offset));
                offset += length;
            }
        }
        _layout = layout;
        _pieces = pieces.ToArray();
        _sums = new PieceSums[_pieces.Length];
        return _pieces;
    }

    /// <summary>Runs <paramref name="body"/> for every piece, on up to <paramref name="threads"/> threads (inline for one).</summary>
    private static void ForEachPiece(int count, int threads, Action<int> body)
    {
        if (threads == 1 || count == 1)
        {
            for (var p = 0; p < count; p++) body(p);
            return;
        }
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
    }

    /// <summary>
    /// destination = |source|; its sum (float lanes added into a double every 256 vectors); and how many values are
    /// below <paramref name="low"/>, at most <paramref name="high"/>, and inside [low, high] — those copied to <paramref name="inside"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AbsSumAndCount(ReadOnlySpan<float> source, Span<float> destination, float low, float high, Span<float> inside, ref PieceSums sums)
    {
        double total = 0;
        int below = 0, atMostHigh = 0, kept = 0, i = 0;
        if (Vector.IsHardwareAccelerated && source.Length >= Vector<float>.Count)
        {
            var lowV = new Vector<float>(low);
            var highV = new Vector<float>(high);
            var belowV = Vector<int>.Zero;
            var atMostHighV = Vector<int>.Zero;
            var src = MemoryMarshal.Cast<float, Vector<float>>(source);
            var dst = MemoryMarshal.Cast<float, Vector<float>>(destination);
            for (var start = 0; start < src.Length; start += 256)
            {
                var end = Math.Min(src.Length, start + 256);
                var sum = Vector<float>.Zero;
                for (var b = start; b < end; b++)
                {
                    var v = Vector.Abs(src[b]);
                    dst[b] = v;
                    sum += v;
                    var isBelow = Vector.LessThan(v, lowV);
                    var isAtMostHigh = Vector.LessThanOrEqual(v, highV);
                    belowV -= isBelow;
                    atMostHighV -= isAtMostHigh;
                    if (Vector.AndNot(isAtMostHigh, isBelow) != Vector<int>.Zero)
                        kept = MagnitudeSelection.CopyInside(destination.Slice(b * Vector<float>.Count, Vector<float>.Count), low, high, inside, kept);
                }
                total += Vector.Sum(sum);
            }
            below = Vector.Sum(belowV);
            atMostHigh = Vector.Sum(atMostHighV);
            i = src.Length * Vector<float>.Count;
        }
        for (; i < source.Length; i++)
        {
            var x = MathF.Abs(source[i]);
            destination[i] = x;
            total += x;
            if (x < low) below++;
            if (x <= high) atMostHigh++;
            if (x >= low && x <= high) inside[kept++] = x;
        }
        sums.Abs = total;
        sums.Below = below;
        sums.AtMostHigh = atMostHigh;
        sums.Inside = kept;
    }

    /// <summary>
    /// a ← tanh(s·a) for a ≥ 0, as (1 − e)/(1 + e) with e = exp(−2·s·a) ∈ (0, 1] (no overflow; absolute error ≈ 1e-7), and
    /// returns Σ tanh (float lanes added into a double every 256 vectors). One fused pass with the runtime's vector exp: TensorPrimitives.Tanh spent its first ~20 calls in tier-0
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
            var blocks = MemoryMarshal.Cast<float, Vector<float>>(values);
            for (var start = 0; start < blocks.Length; start += 256)
            {
                var end = Math.Min(blocks.Length, start + 256);
                var sum = Vector<float>.Zero;
                for (var b = start; b < end; b++)
                {
                    var e = Vector.Exp(blocks[b] * minusTwoS);
                    var t = (one - e) / (one + e);
                    blocks[b] = t;
                    sum += t;
                }
                total += Vector.Sum(sum);
            }
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
            if (w.device_type != DeviceType.CPU || w.dtype != ScalarType.Float32) return false;
            var layout = LayoutOf(w);
            if (layout == MemoryLayout.Other) return false;
            var grad = w.grad;
            if (grad is not null && (grad.device_type != DeviceType.CPU || grad.dtype != ScalarType.Float32 ||
                                     !grad.shape.SequenceEqual(w.shape) || LayoutOf(grad) != layout))
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
