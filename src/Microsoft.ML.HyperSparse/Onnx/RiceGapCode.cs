namespace Microsoft.ML.HyperSparse.Onnx;

/// <summary>
/// The <see cref="OnnxWeightEncoding.Compact"/> position code: the ascending positions p_0 &lt; p_1 &lt; … of the kept weights
/// (in the concatenation of every layer stored this way, each flattened row-major) become gaps g_0 = p_0 and
/// g_i = p_i − p_(i−1) ≥ 1, and each gap g = q·2^k + r is Rice-coded: r in k bits, q in unary (q zero bits, then a one).
/// </summary>
/// <remarks>
/// <para>Layout (bits most significant first within each byte): the n remainders (n·k bits), one zero separator bit, the n unary
/// codes, zero padding to a whole byte. With k near log2 of the mean gap this costs about 1 + k + mean gap / 2^k bits per kept
/// weight — within a few percent of the mask's entropy N·H(nnz/N) — and has no escape for long gaps.</para>
/// <para>Decoding needs no loop, so standard ONNX operators do it and ONNX Runtime constant-folds it at load: unpack the bytes
/// into bits (BitShift, Mod), split off the remainder bits, find the ones of the rest (NonZero) — the i-th one sits at
/// t_i = i + 1 + q_0 + … + q_i thanks to the separator — and then p_i = 2^k·t_i + Σ_(j≤i) (r_j − 2^k), a CumSum.</para>
/// </remarks>
internal static class RiceGapCode
{
    /// <summary>Largest remainder width tried; gaps are below 2^31 for any weight a single tensor holds.</summary>
    public const int MaxK = 30;

    /// <summary>The remainder width in 1..<see cref="MaxK"/> that gives the shortest stream (ties to the smaller width).</summary>
    public static int BestK(ReadOnlySpan<long> positions)
    {
        int best = 1;
        long bestBits = long.MaxValue;
        for (int k = 1; k <= MaxK; k++)
        {
            long bits = StreamBits(positions, k);
            if (bits < bestBits)
            {
                best = k;
                bestBits = bits;
            }
        }

        return best;
    }

    /// <summary>Bits of the stream for remainder width <paramref name="k"/>, before padding.</summary>
    public static long StreamBits(ReadOnlySpan<long> positions, int k)
    {
        long bits = (long)positions.Length * (k + 1) + 1;
        long previous = 0;
        foreach (long position in positions)
        {
            bits += (position - previous) >> k;
            previous = position;
        }

        return bits;
    }

    /// <summary>Encodes strictly ascending non-negative <paramref name="positions"/> with remainder width <paramref name="k"/>.</summary>
    /// <exception cref="ArgumentException">Positions not strictly ascending, negative, or k outside 1..<see cref="MaxK"/>.</exception>
    public static byte[] Encode(ReadOnlySpan<long> positions, int k)
    {
        if (k is < 1 or > MaxK)
            throw OnnxExportErrors.Network("Rice gap code", $"a remainder width in 1..{MaxK}", k.ToString());
        var writer = new BitWriter(StreamBits(positions, k));
        long previous = 0;
        long mask = (1L << k) - 1;
        for (int i = 0; i < positions.Length; i++)
        {
            long gap = positions[i] - previous;
            if (gap < (i == 0 ? 0 : 1))
                throw OnnxExportErrors.Network("Rice gap code", "strictly ascending non-negative positions", $"{positions[i]} at entry {i} after {previous}");
            writer.Write(gap & mask, k);
            previous = positions[i];
        }

        writer.Write(0, 1);
        previous = 0;
        foreach (long position in positions)
        {
            writer.Zeros((position - previous) >> k);
            writer.Write(1, 1);
            previous = position;
        }

        return writer.ToArray();
    }

    /// <summary>Decodes <paramref name="count"/> positions the way the ONNX graph does (a reference for tests and tools).</summary>
    /// <exception cref="ArgumentException">The stream is too short for <paramref name="count"/> entries.</exception>
    public static long[] Decode(byte[] stream, int k, int count)
    {
        long Bit(long index) => (stream[(int)(index >> 3)] >> (7 - (int)(index & 7))) & 1;
        long totalBits = (long)stream.Length * 8;
        long remainderBits = (long)count * k;
        if (remainderBits + 1 > totalBits)
            throw OnnxExportErrors.Network("Rice gap code", $"at least {remainderBits + 1} bits", $"{totalBits}");

        var positions = new long[count];
        long sum = 0, found = 0;
        for (long bit = remainderBits; bit < totalBits && found < count; bit++)
        {
            if (Bit(bit) == 0)
                continue;
            long remainder = 0;
            for (int b = 0; b < k; b++)
                remainder = (remainder << 1) | Bit(found * k + b);
            sum += remainder - (1L << k);
            positions[found] = (1L << k) * (bit - remainderBits) + sum;
            found++;
        }

        if (found != count)
            throw OnnxExportErrors.Network("Rice gap code", $"{count} unary codes", $"{found}");
        return positions;
    }

    private sealed class BitWriter(long bits)
    {
        private readonly byte[] bytes = new byte[checked((int)((bits + 7) / 8))];
        private long position;

        public void Write(long value, int width)
        {
            for (int b = width - 1; b >= 0; b--)
            {
                if (((value >> b) & 1) != 0)
                    bytes[position >> 3] |= (byte)(0x80 >> (int)(position & 7));
                position++;
            }
        }

        public void Zeros(long count) => position += count;

        public byte[] ToArray() => bytes;
    }
}
