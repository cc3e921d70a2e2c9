using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Microsoft.ML.HyperSparse.Engine.Pruning;

/// <summary>
/// Exact selection of the (k+1)-th smallest of non-negative floats, equal to <c>kthvalue(k + 1)</c> of the same values
/// (tested) at a fraction of its cost on the 10⁴–10⁶ weights of the networks here.
/// <list type="bullet">
/// <item><see cref="KthSmallest"/>: radix on the bit patterns — for x ≥ 0 (and +∞, NaN above it) the IEEE-754 bits order as
/// the values do, so three histogram passes over 12, 12 and 7 bits find the value without sorting. The first pass reads
/// every value once; the later ones only the values in the chosen bucket.</item>
/// <item><see cref="CopyInside"/>: when a bracket [low, high] around the answer is known (the HS threshold moves little from
/// one mini-batch to the next), the caller's one pass over the weights counts the values below and inside it and copies
/// the few inside out with this, and only those are selected from (WeightRegularizer's fused first pass).</item>
/// </list>
/// The hot methods are compiled optimised at once (AggressiveOptimization): they run once per mini-batch, and a tier-0 start
/// would cost every run its first few dozen mini-batches (on-stack replacement cannot lift a method with stackalloc out of
/// tier-0).
/// </summary>
internal static class MagnitudeSelection
{
    private const int Width1 = 12, Width2 = 12, Width3 = 7; // 31 bits: the sign bit is 0 for every x ≥ 0
    private const int Lanes = 4; // interleaved histograms: runs of equal buckets do not serialise on one counter

    /// <summary>
    /// The (<paramref name="k"/>+1)-th smallest of <paramref name="values"/> (0-based rank k). <paramref name="values"/> is
    /// only read; <paramref name="scratch"/> (any length up to the values') receives the candidates of the later passes.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">k is outside [0, length), a value is negative, or the scratch is shorter than the values.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float KthSmallest(ReadOnlySpan<float> values, long k, Span<float> scratch)
    {
        if (k < 0 || k >= values.Length)
            throw new ArgumentOutOfRangeException(nameof(k), k, $"The rank must be in [0, {values.Length}).");
        if (scratch.Length < values.Length)
            throw new ArgumentOutOfRangeException(nameof(scratch), scratch.Length, $"The scratch buffer needs {values.Length} floats.");
        var rank = (int)k;
        Span<int> histograms = stackalloc int[Lanes << Math.Max(Width1, Width2)];
        uint prefix = 0;
        var current = MemoryMarshal.Cast<float, uint>(values);
        var kept = MemoryMarshal.Cast<float, uint>(scratch);
        var shift = 31;
        foreach (var width in stackalloc[] { Width1, Width2, Width3 })
        {
            shift -= width;
            var mask = (1u << width) - 1;
            var size = 1 << width;
            var all = histograms[..(Lanes * size)];
            all.Clear();
            Count(current, shift, mask, all[..size], all.Slice(size, size), all.Slice(2 * size, size), all.Slice(3 * size, size));
            var bucket = 0;
            while (true)
            {
                var count = all[bucket] + all[size + bucket] + all[2 * size + bucket] + all[3 * size + bucket];
                if (rank < count) break;
                rank -= count;
                bucket++;
            }
            prefix |= (uint)bucket << shift;
            if (shift == 0) break;
            // Keep only the chosen bucket's values, at the front of the scratch buffer (branch-free; reading ahead of
            // writing when current is already the scratch).
            var keptCount = 0;
            var wanted = (uint)bucket;
            foreach (var bits in current)
            {
                kept[keptCount] = bits;
                keptCount += ((bits >> shift) & mask) == wanted ? 1 : 0;
            }
            if (keptCount == 1) return BitConverter.UInt32BitsToSingle(kept[0]);
            current = kept[..keptCount];
        }
        // Every remaining value has these 31 bits (−0 counts as +0, as in a comparison).
        return BitConverter.UInt32BitsToSingle(prefix);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Count(ReadOnlySpan<uint> bits, int shift, uint mask, Span<int> h0, Span<int> h1, Span<int> h2, Span<int> h3)
    {
        var i = 0;
        for (; i + Lanes <= bits.Length; i += Lanes)
        {
            uint b0 = bits[i], b1 = bits[i + 1], b2 = bits[i + 2], b3 = bits[i + 3];
            if ((int)(b0 | b1 | b2 | b3) < 0) EnsureNonNegative(bits.Slice(i, Lanes));
            h0[(int)((b0 >> shift) & mask)]++;
            h1[(int)((b1 >> shift) & mask)]++;
            h2[(int)((b2 >> shift) & mask)]++;
            h3[(int)((b3 >> shift) & mask)]++;
        }
        EnsureNonNegative(bits[i..]);
        for (; i < bits.Length; i++) h0[(int)((bits[i] >> shift) & mask)]++;
    }

    /// <summary>Only −0 may carry the sign bit.</summary>
    private static void EnsureNonNegative(ReadOnlySpan<uint> bits)
    {
        foreach (var b in bits)
            if ((int)b < 0 && b != 0x8000_0000u)
                throw new ArgumentOutOfRangeException("values", BitConverter.UInt32BitsToSingle(b), "Magnitudes must be non-negative.");
    }

    /// <summary>Appends the values of <paramref name="block"/> inside [low, high] to <paramref name="scratch"/> from <paramref name="inside"/> on; returns the new count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int CopyInside(ReadOnlySpan<float> block, float low, float high, Span<float> scratch, int inside)
    {
        foreach (var x in block)
            if (x >= low && x <= high) scratch[inside++] = x;
        return inside;
    }
}
