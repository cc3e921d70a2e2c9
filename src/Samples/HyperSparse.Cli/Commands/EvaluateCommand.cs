using System.Globalization;
using System.Text.Json;
using HyperSparse.Cli.Data;
using HyperSparse.Cli.Scoring;
using Microsoft.ML;
using Microsoft.ML.Data;
using Spectre.Console;

namespace HyperSparse.Cli.Commands;

/// <summary><c>hypersparse evaluate</c>: accuracy, per-class table and confusion matrix of a model.zip on labelled images.</summary>
internal static class EvaluateCommand
{
    public const string Name = "evaluate";

    public static readonly OptionSpec[] Options =
    {
        new("--model", "a model.zip written by 'hypersparse train'"),
        new("--data", "a folder of class subfolders of images, or an IDX folder"),
        new("--limit", "a positive number of images"),
        new("--split", "one of test, train (IDX folders only)", Default: "test"),
        new("--class-names", "one of auto, fashion, digits (IDX folders only)", Default: "auto"),
        new("--json", "a file to write the metrics to as JSON (- for standard output)"),
        ImageCheck.MaxPixelsOption,
    };

    public static readonly string Usage = """
        hypersparse evaluate --model <model.zip> --data <dir> [--limit N] [--split test|train] [--json <file>]

          --model <file>         model.zip from 'hypersparse train'
          --data <dir>           class subfolders of images (names must be the model's classes), or an IDX folder
          --limit <N>            evaluate at most N images (folder: a seeded sample; IDX: the first N)
          --split test|train     IDX folders: which split                                          [test]
          --class-names <s>      IDX folders: auto | fashion | digits                               [auto]
          --json <file>          also write accuracy, per-class metrics and the confusion matrix as JSON
                                 (a regular file, replaced whole; - writes it to standard output)
        """ + ImageCheck.MaxPixelsUsage;

    public static int Run(CliContext cli, IReadOnlyList<string> args)
    {
        var line = CommandLine.Parse(Name, args, Options);
        var modelPath = line.RequiredText("--model");
        var dataPath = line.RequiredText("--data");
        var limit = line.Int("--limit", v => v > 0);
        var split = line.Choice("--split", "test", "train")!;
        var scheme = line.Choice("--class-names", "auto", "fashion", "digits")!;
        var jsonPath = line.Text("--json");
        var maxPixels = ImageCheck.MaxPixels(line);

        var idx = IdxFolder.TryOpen(dataPath);
        ImageFolder? folder = idx is null ? ImageFolder.Open(Name, "--data", dataPath, minimumClasses: 1) : null;
        var saved = SavedModel.Load(Name, "--model", modelPath);
        var ml = saved.Context;
        IDataView rows;
        int count;
        if (idx is not null)
        {
            var images = idx.Read(split, limit);
            var names = IdxFolder.ClassNames(scheme == "auto" ? idx.GuessClassNames() : scheme, images.ClassCount);
            rows = Views.InMemory(ml, images, names, Enumerable.Range(0, images.Count).ToList());
            count = images.Count;
        }
        else
        {
            var list = folder!.Images.ToList();
            if (limit is { } l && l < list.Count)
            {
                var random = new Random(42);
                list = list.OrderBy(_ => random.Next()).Take(l).ToList();
            }
            var unknown = list.Select(i => i.Label).Distinct().Where(c => !saved.ClassNames.Contains(c)).ToList();
            if (unknown.Count > 0)
                throw new UsageException($"{Name}: option --data: expected class subfolders named after the model's classes ({string.Join(", ", saved.ClassNames)}), found {string.Join(", ", unknown.Select(u => $"'{u}'"))}.");
            var check = ImageCheck.Inspect(list.Select(i => i.Path).ToList(), maxPixels, cli.Cancellation);
            if (check.Unreadable.Count > 0)
                throw new UsageException($"{Name}: option --data: expected readable images in '{folder.Root}', found {ImageCheck.Describe(check, list.Count, folder.Root)}. Remove or replace them.");
            foreach (var note in folder.Notes) cli.Out.MarkupLine("[yellow]" + Markup.Escape("note: " + note) + "[/]");
            rows = Views.Files(ml, list);
            count = list.Count;
        }
        cli.Out.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"Evaluating {Path.GetFileName(saved.Path)} on {count:N0} images from {dataPath}{(idx is not null ? $" ({split} split)" : "")}; class names from the {saved.ClassNameSource}{(saved.Pixels is { } pixels ? "; " + pixels.Describe() : "")}.")));
        var evaluation = Evaluate(saved, rows, inMemory: idx is not null);
        evaluation.Render(cli.Out);
        if (jsonPath is not null)
        {
            var json = JsonSerializer.Serialize(evaluation.ToJson(), new JsonSerializerOptions { WriteIndented = true });
            if (jsonPath == "-")
            {
                cli.Out.Profile.Out.Writer.WriteLine(json);
                return ExitCodes.Success;
            }
            try
            {
                AtomicFile.WriteText(jsonPath, json);
            }
            catch (NotARegularFileException ex)
            {
                throw new UsageException($"{Name}: option --json: {ex.Message} Use --json - for standard output.");
            }
        }
        return ExitCodes.Success;
    }

    /// <summary>Scores labelled rows (LabelText plus ImagePath, or Image when in memory) with the saved model.</summary>
    public static Evaluation Evaluate(SavedModel saved, IDataView rows, bool inMemory)
    {
        var ml = saved.Context;
        var input = inMemory ? Views.Image : Views.ImagePath;
        var wanted = inMemory ? saved.ImageColumn! : saved.ImagePathColumn;
        if (wanted != input) rows = ml.Transforms.CopyColumns(wanted, input).Fit(rows).Transform(rows);
        var scored = inMemory ? saved.ScoreImages(rows) : saved.ScoreFiles(rows);
        var scores = saved.Scores(scored);
        var truthText = scored.GetColumn<string>(Views.LabelText).ToList();
        var index = saved.ClassNames.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i, StringComparer.Ordinal);
        var truth = new List<int>(truthText.Count);
        foreach (var t in truthText)
        {
            if (!index.TryGetValue(t, out var k))
                throw new UsageException($"{Name}: option --data: expected images of the model's classes ({string.Join(", ", saved.ClassNames)}), found class '{t}'.");
            truth.Add(k);
        }
        return new Evaluation(saved.ClassNames, truth, scores);
    }
}
