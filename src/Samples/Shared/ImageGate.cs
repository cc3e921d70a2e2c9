using System.Globalization;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace HyperSparse.Imaging;

/// <summary>
/// The one gate every image file passes before anything decodes it, shared by the <c>hypersparse</c> CLI and the scoring
/// sample (this file is compiled into both). It reads the header first and refuses an image whose width × height exceeds
/// a pixel limit before a single pixel buffer exists, so a small file that claims 20000×20000 pixels (a decompression
/// bomb: 1.6 GB decoded from a 390 KB PNG) or a size whose byte count overflows 32 bits costs nothing. Every byte count is
/// computed in 64 bits and bounded before it is allocated.
/// </summary>
/// <remarks>
/// ML.NET's <c>LoadImages</c> decodes a file with SkiaSharp at its full size and has no limit of its own, so a file is
/// handed to it only after this gate admitted it. The limit is <see cref="DefaultMaxPixels"/> (64 megapixels, 8192×8192;
/// a 48-megapixel phone photo passes) unless a caller sets another one (CLI <c>--max-image-pixels</c>, scoring sample
/// <c>--max-image-pixels</c>). Decoding an admitted image needs 4 bytes per pixel, at most 256 MiB at the default limit.
/// </remarks>
internal static class ImageGate
{
    /// <summary>The default pixel limit: 64 megapixels (67,108,864 = 8192 × 8192).</summary>
    public const long DefaultMaxPixels = 64L * 1024 * 1024;

    /// <summary>The largest limit a caller may set: a decoded RGBA image (4 bytes a pixel) must fit in one .NET array.</summary>
    public static readonly long LargestMaxPixels = Array.MaxLength / BytesPerPixel;

    /// <summary>Bytes of one decoded pixel (RGBA, 8 bits a channel): what SkiaSharp and ML.NET allocate per pixel.</summary>
    public const int BytesPerPixel = 4;

    /// <summary>File extensions read as images, everywhere (training folders, predict, evaluate, the scoring sample).</summary>
    public static readonly IReadOnlyList<string> Extensions = new[] { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp" };

    /// <summary>True when the file name ends with one of <see cref="Extensions"/> (any case).</summary>
    public static bool HasImageExtension(string path) =>
        Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <summary>Checks a pixel limit given by a user; null when it is acceptable, else what is expected.</summary>
    public static string? CheckLimit(long maxPixels) => maxPixels >= 1 && maxPixels <= LargestMaxPixels
        ? null
        : string.Create(CultureInfo.InvariantCulture, $"a number of pixels from 1 to {LargestMaxPixels:N0}");

    /// <summary>
    /// Reads the header of <paramref name="path"/> only: format and size. Null when the image is admitted (its size is
    /// returned in <paramref name="header"/>); otherwise what is wrong, in words for a message that names the file.
    /// </summary>
    public static string? Admit(string path, long maxPixels, out ImageHeader header)
    {
        header = default;
        if (Unreadable(path, out var length) is { } problem) return problem;
        try
        {
            using var stream = File.OpenRead(path);
            return Admit(stream, length, maxPixels, out header);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "cannot be read: " + ex.Message;
        }
    }

    /// <summary>The same for image bytes that are not a file (an upload): the header is read from the start of the stream.</summary>
    public static string? Admit(Stream stream, long length, long maxPixels, out ImageHeader header)
    {
        header = default;
        if (length == 0) return "an empty file, 0 bytes";
        using var codec = SKCodec.Create(new SKManagedStream(stream, disposeManagedStream: false), out var opened);
        if (codec is null)
            return string.Create(CultureInfo.InvariantCulture, $"not an image the decoder knows: {length:N0} bytes, {Describe(opened)}");
        return Admit(codec, maxPixels, out header);
    }

    private static string? Admit(SKCodec codec, long maxPixels, out ImageHeader header)
    {
        var (width, height) = (codec.Info.Width, codec.Info.Height);
        header = new ImageHeader(codec.EncodedFormat.ToString(), width, height);
        if (width <= 0 || height <= 0)
            return string.Create(CultureInfo.InvariantCulture, $"a {header.Format} image of size {width}×{height}: expected a positive width and height");
        var pixels = (long)width * height;
        if (pixels > maxPixels)
            return string.Create(CultureInfo.InvariantCulture,
                $"a {header.Format} image of {width:N0}×{height:N0} = {pixels:N0} pixels ({pixels * BytesPerPixel / 1048576.0:N0} MiB decoded): expected at most {maxPixels:N0} pixels (the image pixel limit, option --max-image-pixels)");
        return null;
    }

    /// <summary>
    /// Admits the file (<see cref="Admit(string,long,out ImageHeader)"/>) and then decodes every pixel, so a truncated or
    /// corrupt file is found now. Null when it decodes completely; otherwise what is wrong. <paramref name="grayscale"/> tells
    /// whether R = G = B in every pixel. PNG and JPEG decode row by row (one row in memory); other formats decode whole,
    /// within the limit.
    /// </summary>
    public static string? Decode(string path, long maxPixels, out bool grayscale)
    {
        grayscale = false;
        if (Unreadable(path, out var length) is { } problem) return problem;
        try
        {
            using var stream = File.OpenRead(path);
            using var codec = SKCodec.Create(new SKManagedStream(stream, disposeManagedStream: false), out var opened);
            if (codec is null)
                return string.Create(CultureInfo.InvariantCulture, $"not an image the decoder knows: {length:N0} bytes, {Describe(opened)}");
            if (Admit(codec, maxPixels, out var header) is { } refused) return refused;
            var info = new SKImageInfo(header.Width, header.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            var result = DecodeRows(codec, info, out grayscale) ?? DecodeWhole(codec, info, out grayscale);
            return result == SKCodecResult.Success
                ? null
                : string.Create(CultureInfo.InvariantCulture, $"a {header.Width}×{header.Height} {header.Format} whose pixel data does not decode: {Describe(result)}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "cannot be read: " + ex.Message;
        }
    }

    /// <summary>Row-by-row decoding; null when the codec cannot decode this image by rows (GIF, WebP, interlaced PNG).</summary>
    private static SKCodecResult? DecodeRows(SKCodec codec, SKImageInfo info, out bool grayscale)
    {
        grayscale = true;
        if (codec.ScanlineOrder != SKCodecScanlineOrder.TopDown) return null;
        if (codec.StartScanlineDecode(info) != SKCodecResult.Success) return null;
        var rowBytes = (long)info.Width * BytesPerPixel;   // ≤ 4 × 2^31: bounded by the pixel limit already
        var row = new byte[rowBytes];
        var handle = GCHandle.Alloc(row, GCHandleType.Pinned);
        try
        {
            for (var y = 0; y < info.Height; y++)
            {
                if (codec.GetScanlines(handle.AddrOfPinnedObject(), 1, (int)rowBytes) != 1) return SKCodecResult.IncompleteInput;
                if (grayscale) grayscale = IsGray(row);
            }
            return SKCodecResult.Success;
        }
        finally
        {
            handle.Free();
        }
    }

    private static SKCodecResult DecodeWhole(SKCodec codec, SKImageInfo info, out bool grayscale)
    {
        grayscale = false;
        // 64-bit size, bounded by the pixel limit (≤ LargestMaxPixels), so the array always holds the whole image.
        var bytes = (long)info.Width * info.Height * BytesPerPixel;
        var pixels = new byte[bytes];
        var handle = GCHandle.Alloc(pixels, GCHandleType.Pinned);
        try
        {
            var result = codec.GetPixels(info, handle.AddrOfPinnedObject());   // row bytes = width × 4 ≤ Array.MaxLength: no overflow
            if (result == SKCodecResult.Success) grayscale = IsGray(pixels);
            return result;
        }
        finally
        {
            handle.Free();
        }
    }

    private static bool IsGray(byte[] rgba)
    {
        for (long p = 0; p + 3 < rgba.LongLength; p += 4)
            if (rgba[p] != rgba[p + 1] || rgba[p + 1] != rgba[p + 2]) return false;
        return true;
    }

    /// <summary>Not a regular file, cannot be opened, or empty: what is wrong; null when it can be read.</summary>
    private static string? Unreadable(string path, out long length)
    {
        length = 0;
        // A FIFO would block forever and a device never ends: only regular files (or links to them) are read.
        var kind = FileKind.Of(path, followLinks: true);
        if (kind == FileKind.Kind.Missing) return "cannot be read: it does not exist (or is a link to nothing)";
        if (kind != FileKind.Kind.Regular) return $"not a regular file but {FileKind.Describe(kind)}";
        try
        {
            length = new FileInfo(path).Length;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "cannot be read: " + ex.Message;
        }
        return length == 0 ? "an empty file, 0 bytes" : null;
    }

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput => "truncated, the image data ends early",
        SKCodecResult.ErrorInInput => "corrupt image data",
        SKCodecResult.InvalidInput => "unrecognised content",
        SKCodecResult.Unimplemented => "unrecognised or unsupported format",
        _ => "decoder result " + result,
    };
}

/// <summary>What an image's header says.</summary>
/// <param name="Format">The encoded format (Png, Jpeg, Bmp, Gif, Webp, …).</param>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
internal readonly record struct ImageHeader(string Format, int Width, int Height);
