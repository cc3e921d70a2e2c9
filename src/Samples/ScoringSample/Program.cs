using System.Diagnostics;
using System.Globalization;
using HyperSparse.Imaging;
using ScoringSample;

// Usage:
//   ScoringSample <model.zip> [--max-image-pixels N] <image or folder>...
//       score files (folders recursively, links to folders not followed) on all cores, print one line each
//   ScoringSample <model.zip> --serve [--port 5080] [--max-image-pixels N]
//       minimal web API on 127.0.0.1: POST /predict with the image bytes
const string Usage = "usage: ScoringSample <model.zip> [--max-image-pixels N] <image|folder>...\n" +
                     "       ScoringSample <model.zip> --serve [--port N] [--max-image-pixels N]";
if (args.Length < 2 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine(Usage);
    return args.Length == 1 && args[0] is "-h" or "--help" ? 0 : 2;
}

// Options are checked before the model is loaded: a typo costs nothing and always exits 2.
var serve = false;
int? port = null;
var maxPixels = ImageGate.DefaultMaxPixels;
var paths = new List<string>();
for (var i = 1; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--serve":
            serve = true;
            break;
        case "--port":
            var portText = i + 1 < args.Length ? args[++i] : null;
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
                return UsageError("--port", "a port number from 1 to 65535", portText);
            port = p;
            break;
        case "--max-image-pixels":
            var pixelsText = i + 1 < args.Length ? args[++i] : null;
            if (!long.TryParse(pixelsText, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || ImageGate.CheckLimit(n) is not null)
                return UsageError("--max-image-pixels", ImageGate.CheckLimit(0)!, pixelsText);   // 0 is out of range: the gate's wording of the range
            maxPixels = n;
            break;
        default:
            paths.Add(args[i]);
            break;
    }
}
if (serve && paths.Count > 0)
    return UsageError("--serve", "no image paths (images are POSTed to /predict)", string.Join(' ', paths));
if (!serve && port is not null)
    return UsageError("--port", "--serve as well (the port is the web API's)", "no --serve");
if (!serve && paths.Count == 0)
{
    Console.Error.WriteLine(Usage);
    return 2;
}

ImageScorer scorer;
try
{
    scorer = new ImageScorer(args[0], maxPixels);
}
catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

using (scorer)
{
    if (serve) return await WebApi.RunAsync(scorer, port ?? 5080);

    var images = new List<string>();
    foreach (var arg in paths)
    {
        if (Directory.Exists(arg))
        {
            var found = new List<string>();
            try
            {
                ListImages(arg, found);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"error: folder '{arg}' cannot be listed: {e.Message}");
                return 1;
            }
            images.AddRange(found.Order(StringComparer.Ordinal));
        }
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

static int UsageError(string option, string expected, string? found)
{
    Console.Error.WriteLine($"error: {option} expects {expected}, found {(found is null ? "nothing" : $"'{found}'")}.");
    return 2;
}

// Walks the folder itself: Directory.EnumerateFiles(…, AllDirectories) follows links to folders, so a link to a parent
// lists the same images again and again (or forever). Links to folders are skipped with a note; links to files are
// scored (the gate reads only regular files behind them). The extensions are the CLI's (ImageGate.Extensions).
static void ListImages(string folder, List<string> into)
{
    foreach (var entry in Directory.EnumerateFileSystemEntries(folder))
    {
        if (Directory.Exists(entry))
        {
            if (FileKind.Of(entry, followLinks: false) == FileKind.Kind.SymbolicLink)
                Console.Error.WriteLine($"note: '{entry}' is a link to a folder; not followed.");
            else
                ListImages(entry, into);
        }
        else if (ImageGate.HasImageExtension(entry))
            into.Add(entry);
    }
}
