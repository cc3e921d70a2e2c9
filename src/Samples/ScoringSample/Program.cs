using System.Diagnostics;
using System.Globalization;
using ScoringSample;

// Usage:
//   ScoringSample <model.zip> <image or folder>...        score files (folders recursively) on all cores, print one line each
//   ScoringSample <model.zip> --serve [--port 5080]       minimal web API on localhost: POST /predict with the image bytes
const string Usage = "usage: ScoringSample <model.zip> <image|folder>... | ScoringSample <model.zip> --serve [--port N]";
if (args.Length < 2 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine(Usage);
    return args.Length == 1 && args[0] is "-h" or "--help" ? 0 : 2;
}

ImageScorer scorer;
try
{
    scorer = new ImageScorer(args[0]);
}
catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

using (scorer)
{
    if (args[1] == "--serve")
    {
        int port = 5080;
        if (args.Length >= 4 && args[2] == "--port" && !int.TryParse(args[3], out port))
        {
            Console.Error.WriteLine($"error: --port expects a number, found '{args[3]}'.");
            return 2;
        }
        await WebApi.RunAsync(scorer, port);
        return 0;
    }

    var images = new List<string>();
    foreach (var arg in args.Skip(1))
    {
        if (Directory.Exists(arg))
            images.AddRange(Directory.EnumerateFiles(arg, "*", SearchOption.AllDirectories)
                .Where(f => f.EndsWith(".png", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase)
                    || f.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".bmp", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal));
        else if (File.Exists(arg))
            images.Add(arg);
        else
        {
            Console.Error.WriteLine($"error: '{arg}' is neither an image file nor a folder.");
            return 1;
        }
    }

    var watch = Stopwatch.StartNew();
    var results = new ImagePrediction?[images.Count];
    var errors = new string?[images.Count];
    Parallel.For(0, images.Count, i =>
    {
        // One bad file must not stop the batch: it is reported by name and the exit code says something failed.
        try { results[i] = scorer.Score(images[i]); }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException) { errors[i] = e.Message; }
    });
    for (var i = 0; i < images.Count; i++)
    {
        if (results[i] is not { } r)
        {
            Console.Error.WriteLine($"error: {errors[i]}");
            continue;
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{r.ImagePath}\t{r.Label}\t{r.Probability:F4}\t{string.Join(" ", r.Top.Select(t => $"{t.Label}:{t.Probability:F4}"))}"));
    }
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"scored {images.Count} images in {watch.Elapsed.TotalSeconds:F2} s with {scorer.EnginesCreated} pooled prediction engines"));
    var failed = errors.Count(e => e is not null);
    if (failed > 0) Console.Error.WriteLine($"error: {failed} of {images.Count} images could not be scored (listed above).");
    return failed > 0 ? 1 : 0;
}
