using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using SkiaSharp;

namespace HyperSparse.Scoring.Tests;

/// <summary>
/// Crafted images, made at test time: PNGs written chunk by chunk (so a file can claim any size, and a large image of
/// zeros costs only its compressed bytes), a tiny GIF encoder (Skia cannot write GIF) and WebP through SkiaSharp.
/// </summary>
internal static class TestImages
{
    /// <summary>A width×height PNG whose pixels are all zero (8-bit; colour type 0 = gray, 6 = RGBA), row by row into zlib.</summary>
    public static byte[] ZeroPng(int width, int height, byte colorType = 0)
    {
        var rowBytes = 1 + width * (colorType == 6 ? 4 : 1);   // filter byte + pixels
        var row = new byte[rowBytes];
        using var idat = new MemoryStream();
        using (var zlib = new ZLibStream(idat, CompressionLevel.SmallestSize, leaveOpen: true))
            for (var y = 0; y < height; y++) zlib.Write(row);
        return Png(width, height, colorType, idat.ToArray());
    }

    /// <summary>
    /// A PNG whose header claims width×height RGBA but whose pixel data is a few zlib bytes: a decompression-bomb header.
    /// Anything that trusts the header allocates width × height × 4 bytes; a header-first gate refuses it for nothing.
    /// </summary>
    public static byte[] BombHeaderPng(int width, int height)
    {
        using var idat = new MemoryStream();
        using (var zlib = new ZLibStream(idat, CompressionLevel.SmallestSize, leaveOpen: true)) zlib.Write(new byte[1024]);
        return Png(width, height, 6, idat.ToArray());
    }

    private static byte[] Png(int width, int height, byte colorType, byte[] idat)
    {
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;            // bit depth
        ihdr[9] = colorType;    // compression, filter and interlace bytes stay 0
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", idat);
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        Encoding.ASCII.GetBytes(type, head.AsSpan(4));
        png.Write(head);
        png.Write(data);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(head.AsSpan(4), data));
        png.Write(crc);
    }

    // PNG's CRC-32 (the zlib polynomial) over the chunk type and data.
    private static uint Crc32(ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var part in new[] { type.ToArray(), data.ToArray() })
            foreach (var b in part)
            {
                crc ^= b;
                for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
            }
        return ~crc;
    }

    /// <summary>The image at <paramref name="pngPath"/> re-encoded as WebP by SkiaSharp.</summary>
    public static byte[] WebpOf(string pngPath)
    {
        using var bitmap = SKBitmap.Decode(pngPath);
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Webp, 100);
        return data.ToArray();
    }

    /// <summary>
    /// The image at <paramref name="pngPath"/> as a GIF with four gray levels. The LZW stream sends a clear code before
    /// every second pixel, so the code table never grows past 3-bit codes: valid GIF, no real compression, a few lines.
    /// </summary>
    public static byte[] GifOf(string pngPath)
    {
        using var bitmap = SKBitmap.Decode(pngPath);
        var (w, h) = (bitmap.Width, bitmap.Height);
        using var gif = new MemoryStream();
        gif.Write("GIF89a"u8);
        gif.Write([(byte)w, (byte)(w >> 8), (byte)h, (byte)(h >> 8), 0xF1, 0, 0]);   // global table of 4 colours
        gif.Write([0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255]);
        gif.Write([0x2C, 0, 0, 0, 0, (byte)w, (byte)(w >> 8), (byte)h, (byte)(h >> 8), 0]);
        gif.WriteByte(2);                                                               // LZW minimum code size
        const int Clear = 4, End = 5, Bits = 3;
        var codes = new List<int>();
        for (var i = 0; i < w * h; i++)
        {
            if (i % 2 == 0) codes.Add(Clear);
            var c = bitmap.GetPixel(i % w, i / w);
            codes.Add((c.Red + c.Green + c.Blue) / 3 / 64);
        }
        codes.Add(End);
        var packed = new List<byte>();
        int buffer = 0, used = 0;
        foreach (var code in codes)
        {
            buffer |= code << used;   // LSB first
            used += Bits;
            for (; used >= 8; used -= 8, buffer >>= 8) packed.Add((byte)buffer);
        }
        if (used > 0) packed.Add((byte)buffer);
        foreach (var block in packed.Chunk(255))
        {
            gif.WriteByte((byte)block.Length);
            gif.Write(block);
        }
        gif.Write([0, 0x3B]);   // end of the image data, trailer
        return gif.ToArray();
    }
}
