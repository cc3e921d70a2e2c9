using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace HyperSparse.Package.Tests;

/// <summary>
/// Writes 8×8 8-bit grayscale PNG files: enough for the tool's image folders, without an imaging package in this project
/// (its point is to consume only the packed packages).
/// </summary>
internal static class TinyPng
{
    public static byte[] Gray8x8(Func<int, int, byte> pixel)
    {
        const int size = 8;
        var raw = new byte[size * (size + 1)];
        for (var y = 0; y < size; y++)
        {
            raw[y * (size + 1)] = 0; // filter type None for every scanline
            for (var x = 0; x < size; x++) raw[y * (size + 1) + 1 + x] = pixel(x, y);
        }
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, size);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), size);
        header[8] = 8; // bit depth
        header[9] = 0; // colour type: grayscale (compression, filter and interlace stay 0)
        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true)) zlib.Write(raw);

        using var png = new MemoryStream();
        png.Write(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A });
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", Array.Empty<byte>());
        return png.ToArray();
    }

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

    /// <summary>The CRC-32 PNG chunks carry (polynomial 0xEDB88320, as in zlib), computed bit by bit: the files are tiny.</summary>
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
