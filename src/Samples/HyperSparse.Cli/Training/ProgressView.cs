using System.Globalization;
using Spectre.Console;

namespace HyperSparse.Cli.Training;

/// <summary>
/// Shows training progress: live progress bars per phase (Spectre.Console) on an interactive terminal, and one line
/// per epoch either way (so logs of non-interactive runs keep the whole history).
/// </summary>
internal static class ProgressView
{
    public static T Run<T>(IAnsiConsole console, bool live, TrainingMonitor monitor, Func<T> work)
    {
        monitor.Epoch += e => console.MarkupLine(Markup.Escape(Describe(monitor, e)));
        monitor.Status += s => console.MarkupLine("[grey]" + Markup.Escape(s) + "[/]");
        if (!live) return work();

        T result = default!;
        console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var reading = ctx.AddTask("Reading images", maxValue: 1);
                reading.IsIndeterminate = true;
                var warmup = ctx.AddTask("Warm-up", autoStart: false, maxValue: Math.Max(monitor.WarmupEpochs, 1));
                var art = monitor.MaxArtEpochs > 0 ? ctx.AddTask("ART", autoStart: false, maxValue: monitor.MaxArtEpochs) : null;
                var fineTune = ctx.AddTask("Fine-tune", autoStart: false, maxValue: Math.Max(monitor.FineTuneEpochs, 1));
                var total = ctx.AddTask("Total", maxValue: monitor.WarmupEpochs + monitor.MaxArtEpochs + monitor.FineTuneEpochs);

                void Refresh()
                {
                    if (monitor.DataRead && !reading.IsFinished)
                    {
                        reading.IsIndeterminate = false;
                        reading.Value = 1;
                        reading.StopTask();
                    }
                    var last = monitor.Last;
                    Update(warmup, "Warm-up", monitor.WarmupDone, monitor.WarmupEpochs, last?.Phase == "Warmup" ? last : null, monitor);
                    if (art is not null)
                    {
                        if (monitor.ArtFinishedAfter is { } n)
                        {
                            art.MaxValue = Math.Max(n, 1);
                            art.Value = art.MaxValue;
                            art.Description = Markup.Escape(monitor.StopRuleFired ? $"ART: stop rule fired after {n}" : $"ART: cap of {n} reached");
                            if (!art.IsFinished) art.StopTask();
                        }
                        else
                        {
                            Update(art, "ART", monitor.ArtDone, monitor.MaxArtEpochs, last?.Phase == "Art" ? last : null, monitor, upTo: true);
                        }
                    }
                    Update(fineTune, "Fine-tune", monitor.FineTuneDone, monitor.FineTuneEpochs, last?.Phase == "FineTune" ? last : null, monitor);
                    var artEpochs = monitor.ArtFinishedAfter ?? monitor.MaxArtEpochs;
                    total.MaxValue = Math.Max(1, monitor.WarmupEpochs + artEpochs + monitor.FineTuneEpochs);
                    total.Value = monitor.WarmupDone + (monitor.ArtFinishedAfter ?? monitor.ArtDone) + monitor.FineTuneDone;
                    total.Description = Markup.Escape("Total " + EtaText(monitor));
                }

                monitor.Epoch += _ => Refresh();
                monitor.Status += _ => Refresh();
                Refresh();
                result = work();
                Refresh();
                foreach (var t in new[] { reading, warmup, art, fineTune, total })
                    if (t is not null && !t.IsFinished) t.StopTask();
            });
        return result;
    }

    private static void Update(ProgressTask task, string name, int done, int of, EpochProgress? last, TrainingMonitor monitor, bool upTo = false)
    {
        if (done > 0 && !task.IsStarted) task.StartTask();
        // A time budget re-plans the phase lengths as it goes.
        if (!task.IsFinished) task.MaxValue = Math.Max(of, Math.Max(done, 1));
        task.Value = done;
        var text = $"{name} {done}/{(upTo ? "≤" : "")}{of}";
        if (last is not null) text += "  " + Metrics(last);
        task.Description = Markup.Escape(text);
        if (done >= of && !task.IsFinished && of > 0 && !upTo) task.StopTask();
    }

    public static string EtaText(TrainingMonitor monitor) => monitor.Budget is { } budget
        ? $"budget left {Duration(TimeSpan.FromSeconds(Math.Max(0, budget.Budget - budget.Used)))} of {Duration(TimeSpan.FromSeconds(budget.Budget))}"
        : monitor.Eta() is { } eta
            ? (eta.UpperBound ? "ETA ≤ " : "ETA ≈ ") + Duration(eta.Remaining)
            : "ETA —";

    public static string Duration(TimeSpan t) => t.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}h{t.Minutes:D2}m")
        : t.TotalMinutes >= 1 ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalMinutes}m{t.Seconds:D2}s")
        : string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:F0}s");

    private static string Metrics(EpochProgress e)
    {
        var parts = new List<string> { F($"train {e.TrainAccuracy:F1} %") };
        if (e.Lambda is { } l) parts.Add(F($"λ {l:0.0e+0}"));
        if (e.PrunedTrainAccuracy is { } p) parts.Add(F($"pruned {p:F1} %"));
        if (e.ValidationAccuracy is { } v) parts.Add(F($"val {v:F1} %"));
        parts.Add(F($"sparsity {e.Sparsity * 100:F1} %"));
        return string.Join("  ", parts);
    }

    private static string Describe(TrainingMonitor monitor, EpochProgress e)
    {
        var (name, of) = e.Phase switch
        {
            "Warmup" => ("warm-up", monitor.WarmupEpochs.ToString(CultureInfo.InvariantCulture)),
            "Art" => ("ART", "≤" + monitor.MaxArtEpochs.ToString(CultureInfo.InvariantCulture)),
            _ => ("fine-tune", monitor.FineTuneEpochs.ToString(CultureInfo.InvariantCulture)),
        };
        return F($"{name,-9} {e.PhaseEpoch,3}/{of,-4} loss {e.Loss:F3}  ") + Metrics(e) + F($"  {e.Seconds:F1} s  ") + EtaText(monitor);
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
