using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace HyperSparse.TestSupport;

/// <summary>
/// PNG files written chunk by chunk at test time, with no imaging library: a file can claim any size, and a large image of
/// zeros costs only its compressed bytes. One writer (and one CRC) for every test project that crafts images; linked
/// into each as source.
/// </summary>
internal static class PngWriter
{
    /// <summary>
    /// A width×height 8-bit PNG of colour type <paramref name="colorType"/> (0 gray, 2 RGB, 6 RGBA) whose IDAT holds the given
    /// scanlines (pixel bytes, without the filter byte), streamed through zlib; fewer scanlines than the height make a
    /// truncated image whose header still claims the full size.
    /// </summary>
    public static byte[] Write(int width, int height, byte colorType, IEnumerable<byte[]> scanlines)
    {
        using var idat = new MemoryStream();
        using (var zlib = new ZLibStream(idat, CompressionLevel.SmallestSize, leaveOpen: true))
            foreach (var line in scanlines)
            {
                zlib.WriteByte(0);   // filter type None
                zlib.Write(line);
            }
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;            // bit depth
        ihdr[9] = colorType;    // compression, filter and interlace bytes stay 0
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", idat.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>An image of zeros whose IDAT holds the first <paramref name="rows"/> scanlines (all of them when null).</summary>
    public static byte[] Zeros(int width, int height, byte colorType = 0, int? rows = null)
    {
        var line = new byte[(long)width * BytesPerPixel(colorType)];
        return Write(width, height, colorType, Enumerable.Repeat(line, rows ?? height));
    }

    /// <summary>A grayscale image with the value <paramref name="pixel"/>(x, y) at each pixel.</summary>
    public static byte[] Gray(int width, int height, Func<int, int, byte> pixel) =>
        Write(width, height, 0, Enumerable.Range(0, height).Select(y => Enumerable.Range(0, width).Select(x => pixel(x, y)).ToArray()));

    private static int BytesPerPixel(byte colorType) => colorType switch
    {
        0 => 1,
        2 => 3,
        6 => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(colorType), colorType, "Expected PNG colour type 0 (gray), 2 (RGB) or 6 (RGBA)."),
    };

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        var typeAndData = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        png.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typeAndData));
        png.Write(word);
    }

    /// <summary>PNG's CRC-32 (the zlib polynomial) over a chunk's type and data, bit by bit: test files are small.</summary>
    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }
}
