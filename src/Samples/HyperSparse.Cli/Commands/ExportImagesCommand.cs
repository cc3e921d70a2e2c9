using System.Globalization;
using System.Runtime.InteropServices;
using HyperSparse.Cli.Data;
using SkiaSharp;
using Spectre.Console;

namespace HyperSparse.Cli.Commands;

/// <summary><c>hypersparse export-images</c>: an IDX dataset as class-folder PNGs (out/&lt;class&gt;/&lt;split&gt;-00000.png).</summary>
internal static class ExportImagesCommand
{
    public const string Name = "export-images";

    public static readonly OptionSpec[] Options =
    {
        new("--idx", "an IDX folder (train-/t10k-images-idx3-ubyte[.gz] and labels)"),
        new("--out", "a folder to write class subfolders of PNGs to"),
        new("--limit", "a positive number of images"),
        new("--split", "one of train, test", Default: "train"),
        new("--class-names", "one of auto, fashion, digits", Default: "auto"),
    };

    public const string Usage = """
        hypersparse export-images --idx <dir> --out <dir> [--limit N] [--split train|test] [--class-names auto|fashion|digits]

          --idx <dir>            IDX folder, e.g. /usr/share/datasets/fashion-mnist
          --out <dir>            written as <out>/<class>/<split>-<index>.png (8-bit grayscale PNG)
          --limit <N>            only the first N images of the split
          --split train|test     which split                                                      [train]
          --class-names <s>      folder names: fashion (Fashion-MNIST's), digits (0-9), auto (fashion when
                                 the IDX path says "fashion")                                       [auto]
        """;

    public static int Run(CliContext cli, IReadOnlyList<string> args)
    {
        var line = CommandLine.Parse(Name, args, Options);
        var idxPath = line.RequiredText("--idx");
        var outDir = line.RequiredText("--out");
        var limit = line.Int("--limit", v => v > 0);
        var split = line.Choice("--split", "train", "test")!;
        var scheme = line.Choice("--class-names", "auto", "fashion", "digits")!;
        if (!Directory.Exists(idxPath))
            throw line.Invalid("--idx", $"'{idxPath}', which does not exist");
        var idx = IdxFolder.TryOpen(idxPath) ?? throw line.Invalid("--idx", $"'{idxPath}', which holds no IDX files");
        if (!idx.HasSplit(split)) throw line.Invalid("--split", $"'{split}', which '{idxPath}' does not have", "a split whose images and labels files are both present");
        if (File.Exists(outDir)) throw line.Invalid("--out", $"'{outDir}', which is a file");
        if (scheme == "auto") scheme = idx.GuessClassNames();

        var images = idx.Read(split, limit);
        var names = IdxFolder.ClassNames(scheme, images.ClassCount);
        foreach (var n in names.Distinct()) Directory.CreateDirectory(Path.Combine(outDir, n));
        var written = 0;
        Parallel.For(0, images.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cli.Cancellation }, i =>
        {
            var path = Path.Combine(outDir, names[images.Labels[i]], string.Create(CultureInfo.InvariantCulture, $"{split}-{i:D5}.png"));
            using var bitmap = new SKBitmap(images.Width, images.Height, SKColorType.Gray8, SKAlphaType.Opaque);
            var gray = images.Image(i).ToArray();
            Marshal.Copy(gray, 0, bitmap.GetPixels(), gray.Length);
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            AtomicFile.Write(path, s => data.SaveTo(s));
            Interlocked.Increment(ref written);
        });
        var perClass = Enumerable.Range(0, names.Length).Select(k => images.Labels.Count(l => l == k)).ToArray();
        cli.Out.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"Wrote {written:N0} PNGs ({images.Width}×{images.Height} grayscale) of the {split} split to {outDir}: ") +
            string.Join(", ", names.Select((n, k) => $"{n} {perClass[k]}"))));
        return ExitCodes.Success;
    }
}
