using System.Collections.Concurrent;
using System.Globalization;
using HyperSparse.Imaging;

namespace HyperSparse.Cli.Data;

/// <summary>
/// Decodes every image file once before it is used, through <see cref="ImageGate"/> (header first: the pixel limit), with
/// the same decoder ML.NET's LoadImages uses (SkiaSharp), so a bad
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

    /// <summary>The option every command that reads images takes: the pixel limit of <see cref="ImageGate"/>.</summary>
    public static readonly OptionSpec MaxPixelsOption = new("--max-image-pixels",
        string.Create(CultureInfo.InvariantCulture, $"a number of pixels from 1 to {ImageGate.LargestMaxPixels:N0} (width × height of the largest image accepted)"),
        Default: ImageGate.DefaultMaxPixels.ToString(CultureInfo.InvariantCulture));

    /// <summary>Usage text of <see cref="MaxPixelsOption"/>, for the commands' help.</summary>
    public static readonly string MaxPixelsUsage = string.Create(CultureInfo.InvariantCulture,
        $"  --max-image-pixels <N>  refuse images larger than N pixels (width × height) before decoding them   [{ImageGate.DefaultMaxPixels:N0}]\n");

    /// <summary>The value of <see cref="MaxPixelsOption"/>.</summary>
    public static long MaxPixels(CommandLine line) =>
        line.Long(MaxPixelsOption.Name, v => ImageGate.CheckLimit(v) is null)!.Value;

    /// <summary>Decodes every file (on all cores), each only after its header passed the pixel limit; never throws for a bad image.</summary>
    public static Result Inspect(IReadOnlyList<string> paths, long maxPixels, CancellationToken cancellation = default)
    {
        var problems = new ConcurrentDictionary<int, string>();
        var colour = 0;
        Parallel.For(0, paths.Count, new ParallelOptions { CancellationToken = cancellation }, i =>
        {
            var problem = ImageGate.Decode(paths[i], maxPixels, out var grayscale);
            if (problem is not null) problems[i] = problem;
            else if (!grayscale) Interlocked.Exchange(ref colour, 1);
        });
        var unreadable = problems.OrderBy(p => p.Key).Select(p => (paths[p.Key], p.Value)).ToList();
        return new Result(unreadable, colour == 0);
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
}
