using SkiaSharp;

namespace HyperSparse.Scoring.Tests;

/// <summary>
/// Crafted images, made at test time, beside the shared <see cref="HyperSparse.TestSupport.PngWriter"/>: a tiny GIF encoder
/// (Skia cannot write GIF) and WebP through SkiaSharp.
/// </summary>
internal static class TestImages
{
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
