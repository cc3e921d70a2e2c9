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
/// </summary>
internal sealed partial class TrainingMonitor(int warmupEpochs, int maxArtEpochs, int fineTuneEpochs, bool oneShot)
{
    private readonly object gate = new();
    private readonly List<EpochProgress> epochs = new();

    public int WarmupEpochs { get; } = warmupEpochs;
    public int MaxArtEpochs { get; } = oneShot ? 0 : maxArtEpochs;
    public int FineTuneEpochs { get; } = fineTuneEpochs;

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
            else if (text.StartsWith("ART cap of", StringComparison.Ordinal)) ArtFinishedAfter = MaxArtEpochs;
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

    /// <summary>Seconds left: remaining epochs × measured seconds per epoch of their kind. Upper bound while ART may still run to its cap.</summary>
    public (TimeSpan Remaining, bool UpperBound)? Eta()
    {
        lock (gate)
        {
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
    [GeneratedRegex(@"^ART stop rule fired after (\d+) ART epochs", RegexOptions.CultureInvariant)]
    private static partial Regex StopLine();
    [GeneratedRegex(@"^Resumed from '.*' at epoch \d+ \((?<phase>\w+), phase epoch (?<pe>\d+)\)", RegexOptions.CultureInvariant)]
    private static partial Regex ResumedLine();
}
