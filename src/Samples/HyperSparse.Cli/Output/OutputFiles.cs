using HyperSparse.Cli.Training;
using Microsoft.ML.HyperSparse;

namespace HyperSparse.Cli.Output;

/// <summary>The files a train run writes into --out.</summary>
internal sealed class OutputFiles(string folder)
{
    public string Folder { get; } = folder;
    public string ModelZip => Path.Combine(Folder, "model.zip");
    public string ModelOnnx => Path.Combine(Folder, "model.onnx");
    public string ReportMarkdown => Path.Combine(Folder, "report.md");
    public string ReportJson => Path.Combine(Folder, "report.json");
    public string CurvesPlot => Path.Combine(Folder, "training-curves.png");
    public string DensityPlot => Path.Combine(Folder, "layer-density.png");
    /// <summary>Dense minus pruned-copy train accuracy per ART epoch, with λ (written when ART ran).</summary>
    public string GapPlot => Path.Combine(Folder, "art-gap.png");
    public string ConsumeSnippet => Path.Combine(Folder, "Consume.cs");

    public IEnumerable<string> All => new[] { ModelZip, ModelOnnx, ReportMarkdown, ReportJson, CurvesPlot, DensityPlot, GapPlot, ConsumeSnippet };
}

/// <summary>What the CLI knows about a run beyond the trainer's report: data, split, profile, timings.</summary>
internal sealed class RunSummary
{
    public required string CommandLine { get; init; }
    public required DateTimeOffset Started { get; init; }
    public required string DataKind { get; init; }
    public required string DataPath { get; init; }
    public required string[] ClassNames { get; init; }
    public required int TrainImages { get; init; }
    public required int EvaluationImages { get; init; }
    public required string EvaluationSet { get; init; }
    public required IReadOnlyList<string> DataNotes { get; init; }
    public required int Channels { get; init; }
    public required int ImageSize { get; init; }
    public required string Architecture { get; init; }
    public required double Sparsity { get; init; }
    public required Profile Profile { get; init; }
    public required HyperSparseClassificationTrainer.Options Options { get; init; }
    public required int Seed { get; init; }
    public required bool Resumed { get; init; }
    /// <summary>Schedule options given on the command line (names as in the trainer's options); with a time budget they are kept as given.</summary>
    public IReadOnlyCollection<string> ScheduleOverrides { get; init; } = Array.Empty<string>();
    public double FitSeconds { get; set; }
    public double TotalSeconds { get; set; }
    public string ScoringInput { get; set; } = "ImagePath";
}
