using System.Globalization;
using HyperSparse.Cli.Data;
using HyperSparse.Cli.Scoring;
using Microsoft.ML;
using Spectre.Console;

namespace HyperSparse.Cli.Commands;

/// <summary><c>hypersparse predict</c>: the label and top-3 probabilities of each image file.</summary>
internal static class PredictCommand
{
    public const string Name = "predict";

    public static readonly OptionSpec[] Options =
    {
        new("--model", "a model.zip written by 'hypersparse train'"),
        new("--top", "a number of classes to show, ≥ 1", Default: "3"),
        new("--json", "no value", IsFlag: true),
        ImageCheck.MaxPixelsOption,
    };

    public static readonly string Usage = """
        hypersparse predict --model <model.zip> <image|folder> [...] [--top N]

          --model <file>         model.zip from 'hypersparse train'
          <image|folder>         image files (PNG, JPEG, BMP, ...), or folders whose images are all scored
          --top <N>              how many of the most likely classes to show                          [3]
          --json                 print a JSON array instead of a table: image, label, probabilities (all classes)
        """ + ImageCheck.MaxPixelsUsage;

    public static int Run(CliContext cli, IReadOnlyList<string> args)
    {
        var line = CommandLine.Parse(Name, args, Options, allowPositional: true);
        var modelPath = line.RequiredText("--model");
        var top = line.Int("--top", v => v >= 1)!.Value;
        var maxPixels = ImageCheck.MaxPixels(line);
        if (line.Positional.Count == 0)
            throw new UsageException($"{Name}: expected one or more image files after the options, found none.");
        // A folder stands for the images under it.
        var images = new List<string>();
        foreach (var path in line.Positional)
        {
            if (File.Exists(path)) images.Add(path);
            else if (Directory.Exists(path))
            {
                // Folder symlinks are not followed (a loop would list the same images again and again).
                var listed = new List<string>();
                ImageFolder.Walk(path, listed, new List<string>());
                var inside = listed.Where(ImageFolder.IsImage).Order(StringComparer.Ordinal).ToList();
                if (inside.Count == 0) throw new UsageException($"{Name}: expected image files or folders of images, found folder '{path}' with no images ({string.Join(", ", ImageFolder.Extensions)}).");
                images.AddRange(inside);
            }
            else throw new UsageException($"{Name}: expected an image file, found '{path}', which does not exist.");
        }
        var check = ImageCheck.Inspect(images, maxPixels, cli.Cancellation);
        if (check.Unreadable.Count > 0)
            throw new UsageException($"{Name}: expected readable images, found {ImageCheck.Describe(check, images.Count, Environment.CurrentDirectory)}.");
        var saved = SavedModel.Load(Name, "--model", modelPath);
        var ml = saved.Context;
        IDataView rows = Views.Files(ml, images.Select(p => new LabeledImage(Path.GetFullPath(p), "")));
        if (saved.ImagePathColumn != Views.ImagePath) rows = ml.Transforms.CopyColumns(saved.ImagePathColumn, Views.ImagePath).Fit(rows).Transform(rows);
        var scores = saved.Scores(saved.ScoreFiles(rows));

        if (line.Flag("--json"))
        {
            var rowsJson = new System.Text.Json.Nodes.JsonArray();
            for (var i = 0; i < scores.Count; i++)
            {
                var best = 0;
                for (var k = 1; k < scores[i].Length; k++) if (scores[i][k] > scores[i][best]) best = k;
                var probabilities = new System.Text.Json.Nodes.JsonArray();
                foreach (var p in scores[i]) probabilities.Add(p);
                rowsJson.Add(new System.Text.Json.Nodes.JsonObject
                {
                    ["image"] = images[i],
                    ["label"] = saved.ClassNames[best],
                    ["probabilities"] = probabilities,
                });
            }
            cli.Out.Profile.Out.Writer.WriteLine(rowsJson.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            return ExitCodes.Success;
        }

        var table = new Table().Border(TableBorder.Simple).AddColumns("image", "label", $"top {Math.Min(top, saved.ClassNames.Length)}");
        for (var i = 0; i < scores.Count; i++)
        {
            var ranked = scores[i].Select((p, k) => (Name: saved.ClassNames[k], P: p)).OrderByDescending(x => x.P).Take(top).ToList();
            table.AddRow(Markup.Escape(images[i]), "[bold]" + Markup.Escape(ranked[0].Name) + "[/]",
                Markup.Escape(string.Join("  ", ranked.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Name} {r.P:P1}")))));
        }
        cli.Out.Write(table);
        return ExitCodes.Success;
    }
}
