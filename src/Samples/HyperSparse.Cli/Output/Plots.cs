using Microsoft.ML.HyperSparse;
using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace HyperSparse.Cli.Output;

/// <summary>PNG plots of a training report (OxyPlot on SkiaSharp 3.119, the same SkiaSharp ImageAnalytics 6 uses).</summary>
internal static class Plots
{
    /// <summary>Accuracy curves (dense train, pruned-copy train, evaluation) and λ per epoch, phases shaded.</summary>
    public static PlotModel TrainingCurves(HyperSparseTrainingReport report, string evaluationLabel)
    {
        var model = new PlotModel { Title = $"{report.Architecture}, κ = {report.RequestedPruningRate:0.###}: training curves", Background = OxyColors.White };
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.BottomRight, LegendBackground = OxyColor.FromAColor(220, OxyColors.White) });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "epoch", Minimum = 0.5, MaximumPadding = 0.02, MajorGridlineStyle = LineStyle.Dot });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = "accuracy (%)", Minimum = 0, Maximum = 100, MajorGridlineStyle = LineStyle.Dot, Key = "acc" });
        var epochs = report.Epochs;
        var anyLambda = epochs.Any(e => e.Lambda > 0);
        if (anyLambda)
            model.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Right, Title = "λ (log scale)", Key = "lambda", StringFormat = "0.0E+0" });

        foreach (var phase in epochs.GroupBy(e => e.Phase))
        {
            var first = phase.Min(e => e.Epoch) + 1;
            var last = phase.Max(e => e.Epoch) + 1;
            model.Annotations.Add(new RectangleAnnotation
            {
                MinimumX = first - 0.5, MaximumX = last + 0.5, YAxisKey = "acc",
                Fill = phase.Key switch { HyperSparseTrainingPhase.Art => OxyColor.FromAColor(40, OxyColors.OrangeRed), HyperSparseTrainingPhase.FineTune => OxyColor.FromAColor(30, OxyColors.SeaGreen), _ => OxyColor.FromAColor(25, OxyColors.SteelBlue) },
                Text = phase.Key switch { HyperSparseTrainingPhase.Art => "ART", HyperSparseTrainingPhase.FineTune => "fine-tune", _ => "warm-up" },
                TextVerticalAlignment = VerticalAlignment.Top,
                TextPosition = new DataPoint((first + last) / 2.0, 99),
                Layer = AnnotationLayer.BelowSeries,
            });
        }
        LineSeries Line(string title, OxyColor color, IEnumerable<(int Epoch, double Value)> points, string yKey = "acc", LineStyle style = LineStyle.Solid)
        {
            var series = new LineSeries { Title = title, Color = color, YAxisKey = yKey, LineStyle = style, MarkerType = MarkerType.Circle, MarkerSize = 2 };
            foreach (var (x, y) in points) series.Points.Add(new DataPoint(x + 1, y));
            model.Series.Add(series);
            return series;
        }
        Line("train (dense, running)", OxyColors.SteelBlue, epochs.Select(e => (e.Epoch, e.TrainAccuracy)));
        if (epochs.Any(e => e.PrunedTrainAccuracy is not null))
            Line("train (pruned copy)", OxyColors.OrangeRed, epochs.Where(e => e.PrunedTrainAccuracy is not null).Select(e => (e.Epoch, e.PrunedTrainAccuracy!.Value)));
        if (epochs.Any(e => e.ValidationAccuracy is not null))
            Line(evaluationLabel, OxyColors.SeaGreen, epochs.Where(e => e.ValidationAccuracy is not null).Select(e => (e.Epoch, e.ValidationAccuracy!.Value)));
        if (anyLambda)
            Line("λ (right axis)", OxyColors.Gray, epochs.Where(e => e.Lambda > 0).Select(e => (e.Epoch, e.Lambda)), "lambda", LineStyle.Dash);
        return model;
    }

    /// <summary>
    /// ART's progress: dense minus pruned-copy train accuracy per ART epoch (the stop rule fires once its windowed mean drops
    /// below zero), λ on a log axis, and — with a time budget — where the planner changed η.
    /// </summary>
    public static PlotModel ArtGap(HyperSparseTrainingReport report)
    {
        var art = report.Epochs.Where(e => e.Phase == HyperSparseTrainingPhase.Art && e.AccuracyGap is not null).ToList();
        var end = report.ArtStopReason switch
        {
            HyperSparseArtStopReason.StopRuleFired => $"stop rule fired after {report.ArtEpochs}",
            HyperSparseArtStopReason.CapReached => $"cap forced the prune after {report.ArtEpochs}",
            _ => "",
        };
        var model = new PlotModel
        {
            Title = $"{report.Architecture}, κ = {report.RequestedPruningRate:0.###}: pruned copy vs dense train accuracy per ART epoch",
            Subtitle = end + (report.TimeBudget is { } b ? " — time budget " + Training.ProgressView.Duration(b.Budget) : ""),
            Background = OxyColors.White,
        };
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.TopRight, LegendBackground = OxyColor.FromAColor(220, OxyColors.White) });
        model.Axes.Add(new LinearAxis
        {
            Position = AxisPosition.Bottom, Title = "ART epoch", Minimum = 0.5, Maximum = Math.Max(2, art.Count) + 0.5, MajorGridlineStyle = LineStyle.Dot,
            MajorStep = Math.Max(1, Math.Ceiling(art.Count / 15.0)), MinorStep = 1,
        });
        var gaps = art.Select(e => e.AccuracyGap!.Value).DefaultIfEmpty(0).ToList();
        model.Axes.Add(new LinearAxis
        {
            Position = AxisPosition.Left, Title = "gap: dense − pruned copy (percentage points)", Key = "gap", MajorGridlineStyle = LineStyle.Dot,
            Minimum = Math.Min(-2, gaps.Min() - 1), Maximum = Math.Max(5, gaps.Max() * 1.1),
        });
        if (art.Any(e => e.Lambda > 0))
            model.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Right, Title = "λ (log scale)", Key = "lambda", StringFormat = "0.0E+0", MinimumPadding = 0.05, MaximumPadding = 0.05 });
        model.Annotations.Add(new LineAnnotation
        {
            Type = LineAnnotationType.Horizontal, Y = 0, YAxisKey = "gap", Color = OxyColors.SeaGreen, LineStyle = LineStyle.Dash,
            Text = "pruned copy = dense (the stop rule fires once the windowed gap is below this)", TextColor = OxyColors.SeaGreen,
            TextHorizontalAlignment = HorizontalAlignment.Left, TextLinePosition = 0.01,
        });
        if (report.TimeBudget is { } budget)
        {
            // η changes take effect from the ART epoch after the decision.
            foreach (var d in budget.Decisions.Where(d => d.Phase == HyperSparseTrainingPhase.Art && d.Setting == "LambdaGrowth"))
                model.Annotations.Add(new LineAnnotation
                {
                    Type = LineAnnotationType.Vertical, X = d.Epoch - report.WarmupEpochs + 0.5, YAxisKey = "gap", Color = OxyColors.Gray,
                    LineStyle = LineStyle.Dot, Text = "η → " + d.Value, TextColor = OxyColors.DimGray,
                });
        }
        var gapSeries = new LineSeries { Title = "gap (dense − pruned copy)", Color = OxyColors.OrangeRed, YAxisKey = "gap", MarkerType = MarkerType.Circle, MarkerSize = 3 };
        foreach (var e in art) gapSeries.Points.Add(new DataPoint(e.PhaseEpoch + 1, e.AccuracyGap!.Value));
        model.Series.Add(gapSeries);
        if (art.Any(e => e.Lambda > 0))
        {
            var lambda = new LineSeries { Title = "λ (right axis)", Color = OxyColors.Gray, YAxisKey = "lambda", LineStyle = LineStyle.Dash, MarkerType = MarkerType.Square, MarkerSize = 2 };
            foreach (var e in art.Where(e => e.Lambda > 0)) lambda.Points.Add(new DataPoint(e.PhaseEpoch + 1, e.Lambda));
            model.Series.Add(lambda);
        }
        if (report.SelectedArtEpoch is { } selected && selected < art.Count)
            model.Annotations.Add(new PointAnnotation
            {
                X = selected + 1, Y = art[selected].AccuracyGap!.Value, YAxisKey = "gap", Shape = MarkerType.Diamond, Size = 7,
                Fill = OxyColors.SteelBlue, Text = "fine-tuned copy", TextColor = OxyColors.SteelBlue, TextVerticalAlignment = VerticalAlignment.Bottom,
            });
        return model;
    }

    /// <summary>Kept fraction (density) of every prunable layer, in network order.</summary>
    public static PlotModel LayerDensity(HyperSparseTrainingReport report)
    {
        var layers = report.Layers;
        var model = new PlotModel
        {
            Title = layers.Any(l => l.KeptDense)
                ? $"Per-layer density after pruning (pruned layers {1 - report.AchievedSparsity:P2} kept; others kept dense)"
                : $"Per-layer density after pruning (overall {1 - report.AchievedSparsity:P2} kept)",
            Background = OxyColors.White,
        };
        model.Axes.Add(new CategoryAxis
        {
            Position = AxisPosition.Left,
            StartPosition = 1, EndPosition = 0,   // first layer at the top
            ItemsSource = layers.Select(l => (l.Name.EndsWith(".weight", StringComparison.Ordinal) ? l.Name[..^".weight".Length] : l.Name)
                + (l.KeptDense ? " (kept dense)" : "")).ToList(),
        });
        var max = layers.Select(l => l.TrainedTotal == 0 ? 0 : 100.0 * l.TrainedKept / l.TrainedTotal).DefaultIfEmpty(1).Max();
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "weights kept (%)", Minimum = 0, Maximum = Math.Max(1, max * 1.3), MajorGridlineStyle = LineStyle.Dot });
        var bars = new BarSeries { FillColor = OxyColors.SteelBlue, LabelPlacement = LabelPlacement.Outside, LabelFormatString = "{0:0.0} %" };
        foreach (var l in layers) bars.Items.Add(new BarItem(l.TrainedTotal == 0 ? 0 : 100.0 * l.TrainedKept / l.TrainedTotal));
        model.Series.Add(bars);
        return model;
    }

    public static void SavePng(PlotModel model, string path, int width, int height) =>
        AtomicFile.Write(path, s => new OxyPlot.SkiaSharp.PngExporter { Width = width, Height = height }.Export(model, s));
}
