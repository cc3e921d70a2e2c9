using System.Globalization;
using System.Text.RegularExpressions;

namespace HyperSparse.Cli.Training;

/// <summary>One epoch as the trainer reports it on <c>MLContext.Log</c>.</summary>
internal sealed record EpochProgress(
    string Phase, int PhaseEpoch, int GlobalEpoch, double Loss, double TrainAccuracy, double? Lambda,
    double? PrunedTrainAccuracy, double? ValidationAccuracy, double Sparsity, double Seconds);

/// <summary>
/// Turns the trainer's <c>MLContext.Log</c> lines (source "HyperSparse", one per epoch, plus a few status lines) into
/// progress: phase, epoch, λ, sparsity, accuracies and an ETA from the schedule and the measured epoch times.
/// The per-epoch line is the only progress hook the library offers, so its wording is parsed here (see README).
/// With a time budget the trainer also logs "Budget: … used, … left; plan: warm-up N, ART ≤ N, fine-tune N" after every
/// epoch: the phase lengths follow the plan and the ETA is the budget left.
/// </summary>
internal sealed partial class TrainingMonitor(int warmupEpochs, int maxArtEpochs, int fineTuneEpochs, bool oneShot)
{
    private readonly object gate = new();
    private readonly List<EpochProgress> epochs = new();

    public int WarmupEpochs { get; private set; } = warmupEpochs;
    public int MaxArtEpochs { get; private set; } = oneShot ? 0 : maxArtEpochs;
    public int FineTuneEpochs { get; private set; } = fineTuneEpochs;

    /// <summary>With a time budget: the budget and the training time used, from the trainer's last "Budget:" line.</summary>
    public (double Used, double Budget)? Budget { get; private set; }

    public int WarmupDone { get; private set; }
    public int ArtDone { get; private set; }
    public int FineTuneDone { get; private set; }

    /// <summary>Set when the ART phase ended (stop rule or cap): the number of ART epochs it ran.</summary>
    public int? ArtFinishedAfter { get; private set; }

    /// <summary>True when ART ended by the paper's stop rule (false: the cap, or not yet).</summary>
    public bool StopRuleFired { get; private set; }

    public EpochProgress? Last { get; private set; }

    /// <summary>True once the trainer has read the data and starts epochs.</summary>
    public bool DataRead { get; private set; }

    public event Action<EpochProgress>? Epoch;
    public event Action<string>? Status;

    public IReadOnlyList<EpochProgress> Epochs
    {
        get { lock (gate) return epochs.ToList(); }
    }

    /// <summary>Feeds one log message; lines not from the HyperSparse trainer are ignored.</summary>
    public void OnLog(string? source, string rawMessage)
    {
        if (string.IsNullOrEmpty(rawMessage)) return;
        var fromTrainer = rawMessage.StartsWith("HyperSparse:", StringComparison.Ordinal) ||
                          (source?.Contains("HyperSparse", StringComparison.Ordinal) ?? false);
        if (!fromTrainer) return;
        // ML.NET's own channel lifecycle lines ("Channel started", "Channel finished. Elapsed …", "Channel disposed").
        if (rawMessage.StartsWith("Channel ", StringComparison.Ordinal)) return;
        if (BudgetLine().Match(rawMessage) is { Success: true } budget)
        {
            // Not shown on its own: the budget left goes into the epoch line that follows, the plan into the bars.
            lock (gate)
            {
                Budget = (Number(budget.Groups["used"].Value), Number(budget.Groups["budget"].Value));
                WarmupEpochs = int.Parse(budget.Groups["warmup"].Value, CultureInfo.InvariantCulture);
                if (budget.Groups["art"].Success) MaxArtEpochs = int.Parse(budget.Groups["art"].Value, CultureInfo.InvariantCulture);
                FineTuneEpochs = int.Parse(budget.Groups["finetune"].Value, CultureInfo.InvariantCulture);
            }
            return;
        }
        if (TryParseEpoch(rawMessage) is { } e)
        {
            lock (gate)
            {
                DataRead = true;
                epochs.Add(e);
                Last = e;
                switch (e.Phase)
                {
                    case "Warmup": WarmupDone = e.PhaseEpoch; break;
                    case "Art": WarmupDone = WarmupEpochs; ArtDone = e.PhaseEpoch; break;
                    default:
                        WarmupDone = WarmupEpochs;
                        ArtFinishedAfter ??= ArtDone;
                        FineTuneDone = e.PhaseEpoch;
                        break;
                }
            }
            Epoch?.Invoke(e);
            return;
        }
        var text = rawMessage.StartsWith("HyperSparse: ", StringComparison.Ordinal) ? rawMessage["HyperSparse: ".Length..] : rawMessage;
        lock (gate)
        {
            if (Regex.IsMatch(text, @"^\d+ training images")) DataRead = true;
            if (StopLine().Match(text) is { Success: true } stop)
            {
                ArtFinishedAfter = int.Parse(stop.Groups[1].Value, CultureInfo.InvariantCulture);
                StopRuleFired = true;
            }
            else if (CapLine().Match(text) is { Success: true } cap) ArtFinishedAfter = int.Parse(cap.Groups[1].Value, CultureInfo.InvariantCulture);
            if (ResumedLine().Match(text) is { Success: true } resumed)
            {
                DataRead = true;
                var phaseEpoch = int.Parse(resumed.Groups["pe"].Value, CultureInfo.InvariantCulture);
                switch (resumed.Groups["phase"].Value)
                {
                    case "Warmup": WarmupDone = phaseEpoch; break;
                    case "Art": WarmupDone = WarmupEpochs; ArtDone = phaseEpoch; break;
                    default: WarmupDone = WarmupEpochs; ArtFinishedAfter ??= ArtDone; FineTuneDone = phaseEpoch; break;
                }
            }
        }
        Status?.Invoke(text);
    }

    /// <summary>
    /// Seconds left: with a time budget, the budget left (the plan ends there); otherwise remaining epochs × measured seconds
    /// per epoch of their kind, an upper bound while ART may still run to its cap.
    /// </summary>
    public (TimeSpan Remaining, bool UpperBound)? Eta()
    {
        lock (gate)
        {
            if (Budget is { } b) return (TimeSpan.FromSeconds(Math.Max(0, b.Budget - b.Used)), false);
            var plain = epochs.Where(e => e.Phase != "Art").TakeLast(5).Select(e => e.Seconds).DefaultIfEmpty().Average();
            var art = epochs.Where(e => e.Phase == "Art").TakeLast(5).Select(e => e.Seconds).DefaultIfEmpty().Average();
            if (plain <= 0 && art <= 0) return null;
            if (plain <= 0) plain = art / 1.7;
            if (art <= 0) art = plain * 1.7;   // the pruned-copy probe makes ART epochs slower; replaced by the measured value after one
            var artLeft = ArtFinishedAfter is null ? Math.Max(0, MaxArtEpochs - ArtDone) : 0;
            var seconds = (WarmupEpochs - WarmupDone) * plain + artLeft * art + (FineTuneEpochs - FineTuneDone) * plain;
            return (TimeSpan.FromSeconds(Math.Max(0, seconds)), artLeft > 0);
        }
    }

    internal static EpochProgress? TryParseEpoch(string line)
    {
        var head = EpochHead().Match(line);
        if (!head.Success) return null;
        double? Number(Regex pattern)
        {
            var m = pattern.Match(line, head.Length);
            return m.Success && double.TryParse(m.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
        }
        return new EpochProgress(
            head.Groups["phase"].Value,
            int.Parse(head.Groups["pe"].Value, CultureInfo.InvariantCulture),
            int.Parse(head.Groups["ge"].Value, CultureInfo.InvariantCulture),
            Number(LossField()) ?? double.NaN,
            Number(TrainAccuracyField()) ?? double.NaN,
            Number(LambdaField()),
            Number(PrunedField()),
            Number(ValidationField()),
            (Number(SparsityField()) ?? double.NaN) / 100,
            Number(SecondsField()) ?? 0);
    }

    [GeneratedRegex(@"^HyperSparse: (?<phase>\w+) epoch (?<pe>\d+) \(global (?<ge>\d+)\)", RegexOptions.CultureInvariant)]
    private static partial Regex EpochHead();
    [GeneratedRegex(@"\bloss (\S+?),", RegexOptions.CultureInvariant)]
    private static partial Regex LossField();
    [GeneratedRegex(@"(?<!pruned )train acc (\S+) ?%", RegexOptions.CultureInvariant)]
    private static partial Regex TrainAccuracyField();
    [GeneratedRegex(@"λ (\S+?),", RegexOptions.CultureInvariant)]
    private static partial Regex LambdaField();
    [GeneratedRegex(@"pruned train acc (\S+) ?%", RegexOptions.CultureInvariant)]
    private static partial Regex PrunedField();
    [GeneratedRegex(@"validation acc (\S+) ?%", RegexOptions.CultureInvariant)]
    private static partial Regex ValidationField();
    [GeneratedRegex(@"sparsity (\S+) ?%", RegexOptions.CultureInvariant)]
    private static partial Regex SparsityField();
    [GeneratedRegex(@", (\S+) s$", RegexOptions.CultureInvariant)]
    private static partial Regex SecondsField();
    private static double Number(string text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^(?:HyperSparse: )?Budget: (?<used>\S+) s of (?<budget>\S+) s used, \S+ s left; plan: warm-up (?<warmup>\d+)(?:, ART ≤ (?<art>\d+))?, fine-tune (?<finetune>\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex BudgetLine();
    [GeneratedRegex(@"^ART cap of (\d+) epochs", RegexOptions.CultureInvariant)]
    private static partial Regex CapLine();
    [GeneratedRegex(@"^ART stop rule fired after (\d+) ART epochs", RegexOptions.CultureInvariant)]
    private static partial Regex StopLine();
    [GeneratedRegex(@"^Resumed from '.*' at epoch \d+ \((?<phase>\w+), phase epoch (?<pe>\d+)\)", RegexOptions.CultureInvariant)]
    private static partial Regex ResumedLine();
}
