using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace HyperSparse.Cli.Data;

/// <summary>
/// Decodes every image file once before it is used, with the same decoder ML.NET's LoadImages uses (SkiaSharp), so a bad
/// file is an error that names it. Without this, an empty or non-image file stops ML.NET's pipeline with "Invalid input
/// stream contents" and no file name, and a truncated PNG loads without any error as a partly black image.
/// Also tells whether every image is grayscale (R = G = B everywhere), for <c>--channels auto</c>.
/// </summary>
internal static class ImageCheck
{
    /// <summary>How many bad files an error message lists by name.</summary>
    public const int Listed = 5;

    /// <summary>What checking a list of files found.</summary>
    /// <param name="Unreadable">Each unreadable file with what is wrong with it, in the order of the input.</param>
    /// <param name="AllGrayscale">True when every readable image has R = G = B in every pixel.</param>
    public sealed record Result(IReadOnlyList<(string Path, string Problem)> Unreadable, bool AllGrayscale);

    /// <summary>Decodes every file (on all cores); never throws for a bad image.</summary>
    public static Result Inspect(IReadOnlyList<string> paths, CancellationToken cancellation = default)
    {
        var problems = new ConcurrentDictionary<int, string>();
        var colour = 0;
        Parallel.For(0, paths.Count, new ParallelOptions { CancellationToken = cancellation }, i =>
        {
            var problem = Problem(paths[i], out var grayscale);
            if (problem is not null) problems[i] = problem;
            else if (!grayscale) Interlocked.Exchange(ref colour, 1);
        });
        var unreadable = problems.OrderBy(p => p.Key).Select(p => (paths[p.Key], p.Value)).ToList();
        return new Result(unreadable, colour == 0);
    }

    /// <summary>Null when the file decodes completely; otherwise what is wrong with it.</summary>
    public static string? Problem(string path, out bool grayscale)
    {
        grayscale = false;
        long length;
        try
        {
            length = new FileInfo(path).Length;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "cannot be read: " + ex.Message;
        }
        if (length == 0) return "an empty file, 0 bytes";
        SKCodec? codec;
        SKCodecResult opened;
        try
        {
            using var stream = File.OpenRead(path);
            codec = SKCodec.Create(new SKManagedStream(stream, disposeManagedStream: false), out opened);
            if (codec is null) return string.Create(CultureInfo.InvariantCulture, $"not an image the decoder knows: {length:N0} bytes, {Describe(opened)}");
            using (codec)
            {
                var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
                if (info.Width <= 0 || info.Height <= 0) return $"an image of size {info.Width}×{info.Height}";
                var pixels = new byte[info.BytesSize];
                var handle = GCHandle.Alloc(pixels, GCHandleType.Pinned);
                SKCodecResult decoded;
                try
                {
                    decoded = codec.GetPixels(info, handle.AddrOfPinnedObject());
                }
                finally
                {
                    handle.Free();
                }
                if (decoded != SKCodecResult.Success)
                    return string.Create(CultureInfo.InvariantCulture, $"a {info.Width}×{info.Height} {codec.EncodedFormat} whose pixel data does not decode: {Describe(decoded)}");
                grayscale = true;
                for (var p = 0; p + 3 < pixels.Length; p += 4)
                    if (pixels[p] != pixels[p + 1] || pixels[p + 1] != pixels[p + 2]) { grayscale = false; break; }
                return null;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "cannot be read: " + ex.Message;
        }
    }

    /// <summary>"2 of 27 images are unreadable: 'a/zero.png' (an empty file, 0 bytes); …" with at most <see cref="Listed"/> names.</summary>
    public static string Describe(Result result, int total, string root)
    {
        var listed = result.Unreadable.Take(Listed).Select(u => $"'{Relative(root, u.Path)}' ({u.Problem})");
        var more = result.Unreadable.Count > Listed ? string.Create(CultureInfo.InvariantCulture, $"; and {result.Unreadable.Count - Listed} more") : "";
        return string.Create(CultureInfo.InvariantCulture, $"{result.Unreadable.Count} of {total:N0} images are unreadable: ") + string.Join("; ", listed) + more;
    }

    private static string Relative(string root, string path)
    {
        var relative = Path.GetRelativePath(root, path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
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
