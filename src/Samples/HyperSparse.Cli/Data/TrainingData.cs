using System.Globalization;
using Microsoft.ML;

namespace HyperSparse.Cli.Data;

/// <summary>
/// The training rows and the evaluation rows of a train run, from an image folder (a stratified hold-out split) or an
/// IDX folder (its train split for training, its test split for evaluation).
/// </summary>
internal sealed class TrainingData
{
    public required string Kind { get; init; }            // "folder" or "idx"
    public required string SourcePath { get; init; }
    public required string[] ClassNames { get; init; }
    public required IDataView Train { get; init; }
    public required int TrainCount { get; init; }
    public IDataView? Evaluation { get; init; }
    public required int EvaluationCount { get; init; }
    /// <summary>How the evaluation set was formed, for the report.</summary>
    public required string EvaluationDescription { get; init; }
    /// <summary>True when rows carry MLImage (IDX) rather than file paths.</summary>
    public required bool InMemory { get; init; }
    public required bool Grayscale { get; init; }
    public List<string> Notes { get; } = new();

    public static TrainingData FromFolder(MLContext ml, string command, string option, string path, int? limit, double holdout, int seed,
        long maxPixels, CancellationToken cancellation)
    {
        var folder = ImageFolder.Open(command, option, path, minimumClasses: 2);
        var images = folder.Images.ToList();
        var notes = folder.Notes.ToList();
        if (limit is { } l && l < images.Count)
        {
            var random = new Random(seed);
            images = images.OrderBy(_ => random.Next()).Take(l).OrderBy(i => i.Path, StringComparer.Ordinal).ToList();
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"--limit {l}: a seeded random {l:N0} of the {folder.Images.Count:N0} images."));
        }
        var present = images.Select(i => i.Label).Distinct().Count();
        if (present < 2)
            throw new UsageException($"{command}: option --limit: expected a limit that keeps at least 2 classes, found {limit} images covering {present} class.");

        // Stratified hold-out: per class, a seeded shuffle, the first ⌊n·holdout⌋ (at least 1 when the class has 2+) held out.
        var train = new List<LabeledImage>();
        var evaluation = new List<LabeledImage>();
        var rng = new Random(seed + 1);
        var notHeldOut = new List<string>();   // classes of a single image: nothing can be held out without losing the class
        foreach (var group in images.GroupBy(i => i.Label).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var items = group.OrderBy(_ => rng.Next()).ToList();
            var n = holdout <= 0 || items.Count < 2 ? 0 : Math.Clamp((int)Math.Floor(items.Count * holdout), 1, items.Count - 1);
            if (holdout > 0 && n == 0) notHeldOut.Add(group.Key);
            evaluation.AddRange(items.Take(n));
            train.AddRange(items.Skip(n));
        }
        train.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        evaluation.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));

        // Every file is decoded once now, so that a bad one is named before training rather than failing (or, for a truncated
        // PNG, loading as a partly black image) deep inside ML.NET's pipeline.
        var check = ImageCheck.Inspect(images.Select(i => i.Path).ToList(), maxPixels, cancellation);
        if (check.Unreadable.Count > 0)
            throw new UsageException($"{command}: option {option}: expected readable images in '{folder.Root}', found {ImageCheck.Describe(check, images.Count, folder.Root)}. Remove or replace them.");
        var grayscale = check.AllGrayscale;
        var result = new TrainingData
        {
            Kind = "folder",
            SourcePath = folder.Root,
            ClassNames = folder.ClassNames,
            Train = Views.Files(ml, train),
            TrainCount = train.Count,
            Evaluation = evaluation.Count > 0 ? Views.Files(ml, evaluation) : null,
            EvaluationCount = evaluation.Count,
            EvaluationDescription = HoldoutDescription(holdout, evaluation.Count, seed, notHeldOut, folder.ClassNames.Length),
            InMemory = false,
            Grayscale = grayscale,
        };
        result.Notes.AddRange(notes);
        return result;
    }

    /// <summary>What the hold-out is, exactly: which classes it covers and why some have no image in it.</summary>
    internal static string HoldoutDescription(double holdout, int held, int seed, IReadOnlyList<string> notHeldOut, int classes)
    {
        var option = string.Create(CultureInfo.InvariantCulture, $"--holdout {holdout}");
        if (holdout <= 0) return "none (--holdout 0)";
        if (held == 0)
            return $"none: every class has a single image, so nothing could be held out without losing the class ({option}); no evaluation";
        var text = string.Create(CultureInfo.InvariantCulture,
            $"stratified hold-out of {holdout:P0} of each class, rounded down but at least 1 image per class of 2 or more ({held:N0} images, seed {seed}); never trained on");
        if (notHeldOut.Count > 0)
            text += string.Create(CultureInfo.InvariantCulture,
                $"; {notHeldOut.Count} of {classes} classes have a single image and none held out, so the evaluation does not cover them: ") +
                string.Join(", ", notHeldOut.Take(ImageCheck.Listed).Select(c => $"'{c}'")) + (notHeldOut.Count > ImageCheck.Listed ? $" and {notHeldOut.Count - ImageCheck.Listed} more" : "");
        return text;
    }

    public static TrainingData FromIdx(MLContext ml, string command, IdxFolder idx, int? limit, string classNameScheme, double holdout, int seed)
    {
        var train = idx.Read("train", limit);
        var test = idx.HasSplit("test") ? idx.Read("test", limit) : null;
        var classCount = Math.Max(train.ClassCount, test?.ClassCount ?? 0);
        if (classNameScheme == "fashion" && classCount > IdxFolder.FashionMnistClassNames.Length)
            throw new UsageException($"{command}: option --class-names: expected 'digits' for an IDX set with {classCount} classes, found 'fashion' (Fashion-MNIST has 10).");
        var names = IdxFolder.ClassNames(classNameScheme, classCount);
        var present = train.Labels.Distinct().Count();
        if (present < 2)
            throw new UsageException($"{command}: option --limit: expected a limit that keeps at least 2 classes, found {train.Count} images covering {present} class.");
        var notes = new List<string>();
        IReadOnlyList<int> trainRows = Enumerable.Range(0, train.Count).ToList();
        IDataView? evaluation;
        int evaluationCount;
        string description;
        if (test is not null)
        {
            evaluation = Views.InMemory(ml, test, names, Enumerable.Range(0, test.Count).ToList());
            evaluationCount = test.Count;
            description = string.Create(CultureInfo.InvariantCulture,
                $"the IDX test split (t10k, {(limit is null ? "all" : "first")} {test.Count:N0} images); never trained on. Its accuracy is also measured after every epoch for the curves; no training decision uses it");
        }
        else
        {
            var rng = new Random(seed + 1);
            var shuffled = Enumerable.Range(0, train.Count).OrderBy(_ => rng.Next()).ToList();
            var n = (int)Math.Floor(train.Count * holdout);
            var held = shuffled.Take(n).Order().ToList();
            trainRows = shuffled.Skip(n).Order().ToList();
            evaluation = n > 0 ? Views.InMemory(ml, train, names, held) : null;
            evaluationCount = n;
            description = n > 0 ? string.Create(CultureInfo.InvariantCulture, $"random hold-out of {holdout:P0} of the train split ({n:N0} images; the folder has no test split)") : "none";
        }
        if (limit is not null) notes.Add(string.Create(CultureInfo.InvariantCulture, $"--limit {limit}: the first {train.Count:N0} train images."));
        var result = new TrainingData
        {
            Kind = "idx",
            SourcePath = idx.Path,
            ClassNames = names,
            Train = Views.InMemory(ml, train, names, trainRows),
            TrainCount = trainRows.Count,
            Evaluation = evaluation,
            EvaluationCount = evaluationCount,
            EvaluationDescription = description,
            InMemory = true,
            Grayscale = true,
        };
        result.Notes.AddRange(notes);
        return result;
    }
}
