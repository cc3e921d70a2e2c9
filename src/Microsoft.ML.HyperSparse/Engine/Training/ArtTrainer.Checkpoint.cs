using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.HyperSparse.Engine.Checkpoints;
using Microsoft.ML.HyperSparse.Engine.Pruning;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Engine.Training;

internal sealed partial class ArtTrainer
{
    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = false,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Everything but tensors: where the run is, what it has recorded, and the stop rule's bookkeeping.</summary>
    private sealed record CheckpointState
    {
        public required string Fingerprint { get; init; }
        public required TrainingPhase Phase { get; init; }
        public required int Epoch { get; init; }
        public required int PhaseEpoch { get; init; }
        public required List<EpochRecord> Epochs { get; init; }
        public required List<string> Notes { get; init; }
        public required ArtStopReason StopReason { get; init; }
        public int? SelectedArtEpoch { get; init; }
        public required List<WindowEntryState> Window { get; init; }
        /// <summary>Index of the best entry in <see cref="Window"/>, -1 when it left the window (saved under "best/"), null when none.</summary>
        public int? BestIndex { get; init; }
        public WindowEntryState? BestOutside { get; init; }
        public required double BestWindowMean { get; init; }
        /// <summary>The schedule as planned so far (null in checkpoints written before schedules could change).</summary>
        public TrainingSchedule? Schedule { get; init; }
        /// <summary>The budget planner's memory (null without a time budget).</summary>
        public BudgetPlannerState? Planner { get; init; }
        /// <summary>Training time used up to this checkpoint, so a resumed run keeps counting against its budget.</summary>
        public double? TrainingSeconds { get; init; }
    }

    private sealed record WindowEntryState(int ArtEpoch, double PrunedAccuracy);

    private sealed partial class Run
    {
        /// <summary>Options and data that must match for a checkpoint to be resumed (threads and paths may differ).</summary>
        private string Fingerprint() => JsonSerializer.Serialize(new
        {
            // The layers kept dense by name, not by the patterns that chose them: "fc*" and "fc1,fc2,fc3" resume each other.
            Options = options with
            {
                CheckpointDirectory = null, Resume = false, Threads = null, TuneAllocator = true, Probe = default, ChannelsLast = false, Precision = default,
                KeepDenseLayers = keptDense.Count == 0 ? null : keptDense.Order(StringComparer.Ordinal).ToArray(),
            },
            train.Count, train.Channels, train.Height, train.Width, train.ClassCount,
            normalization.PixelScale, normalization.Mean, normalization.Std,
        }, JsonOptions);

        private void SaveCheckpoint()
        {
            if (options.CheckpointDirectory is null) return;
            var tensors = new List<KeyValuePair<string, Tensor>>();
            foreach (var (name, t) in model.state_dict()) tensors.Add(new("model/" + name, t));
            for (var i = 0; i < sgd.Velocity.Count; i++)
                if (sgd.Velocity[i] is { } v) tensors.Add(new($"velocity/{i}", v));
            if (mask is not null)
                foreach (var (name, m) in mask.Layers) tensors.Add(new("mask/" + name, m));
            var window = stopRule.Window;
            for (var i = 0; i < window.Count; i++)
                foreach (var (name, t) in window[i].Snapshot.Tensors) tensors.Add(new($"window/{i}/{name}", t));
            int? bestIndex = null;
            WindowEntryState? bestOutside = null;
            if (stopRule.Best is { } best)
            {
                bestIndex = window.ToList().FindIndex(e => ReferenceEquals(e, best));
                if (bestIndex < 0)
                {
                    bestOutside = new WindowEntryState(best.ArtEpoch, best.PrunedAccuracy);
                    foreach (var (name, t) in best.Snapshot.Tensors) tensors.Add(new("best/" + name, t));
                }
            }
            var state = new CheckpointState
            {
                Fingerprint = Fingerprint(),
                Phase = phase,
                Epoch = epoch,
                PhaseEpoch = phaseEpoch,
                Epochs = report.Epochs,
                Notes = report.Notes,
                StopReason = report.ArtStopReason,
                SelectedArtEpoch = report.SelectedArtEpoch,
                Window = window.Select(e => new WindowEntryState(e.ArtEpoch, e.PrunedAccuracy)).ToList(),
                BestIndex = bestIndex,
                BestOutside = bestOutside,
                BestWindowMean = stopRule.BestWindowMean,
                Schedule = schedule,
                Planner = planner?.State,
                TrainingSeconds = ElapsedSeconds,
            };
            var directory = new CheckpointDirectory(options.CheckpointDirectory);
            CheckpointFile.Write(directory.PathForEpoch(epoch), JsonSerializer.Serialize(state, JsonOptions), tensors);
            directory.Prune(keepLast: 2);
        }

        private void TryResume()
        {
            var directory = new CheckpointDirectory(options.CheckpointDirectory!);
            if (!directory.TryLoadLatest(out var loaded, out var warnings))
            {
                foreach (var w in warnings) report.Notes.Add(w);
                if (warnings.Count > 0)
                    throw new InvalidDataException(
                        $"Resume was requested but no readable checkpoint is left in '{options.CheckpointDirectory}': " + string.Join(" ", warnings));
                // Not silent: the report and the log say that this run started from scratch.
                report.Notes.Add($"Resume was requested but '{options.CheckpointDirectory}' holds no checkpoint yet; started a new run.");
                owner.log?.Invoke(report.Notes[^1]);
                return;
            }
            foreach (var w in warnings) { report.Notes.Add(w); owner.log?.Invoke(w); }
            var path = loaded.Path;
            var checkpoint = loaded.Data;
            var tensors = checkpoint.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value);
            try
            {
                var state = JsonSerializer.Deserialize<CheckpointState>(checkpoint.MetadataJson, JsonOptions)
                    ?? throw new InvalidDataException($"Checkpoint '{path}' has no training state.");
                if (state.Fingerprint != Fingerprint())
                    throw new ResumeMismatchException(path, state.Fingerprint, Fingerprint());
                using (var saved = Snapshot.From(Take(tensors, "model/"))) saved.LoadInto(model);
                sgd.Dispose();
                sgd = NewOptimizer();
                for (var i = 0; i < sgd.Velocity.Count; i++)
                    if (tensors.TryGetValue($"velocity/{i}", out var v)) sgd.LoadVelocity(i, v);
                if (tensors.Keys.Any(k => k.StartsWith("mask/", StringComparison.Ordinal)))
                {
                    var masks = Take(tensors, "mask/");
                    mask = new PruningMask(layers.Select(l => (l.Name, masks[l.Name])).ToList());
                }
                var entries = state.Window.Select((e, i) => new ArtStopRule<Snapshot>.Entry(e.ArtEpoch, e.PrunedAccuracy, Snapshot.From(Take(tensors, $"window/{i}/")))).ToList();
                ArtStopRule<Snapshot>.Entry? best = state.BestIndex switch
                {
                    null => null,
                    >= 0 and var i => entries[i],
                    _ => new ArtStopRule<Snapshot>.Entry(state.BestOutside!.ArtEpoch, state.BestOutside.PrunedAccuracy, Snapshot.From(Take(tensors, "best/"))),
                };
                stopRule.Restore(entries, best, state.BestWindowMean);
                phase = state.Phase;
                epoch = state.Epoch;
                phaseEpoch = state.PhaseEpoch;
                report.Epochs.AddRange(state.Epochs);
                report.Notes.AddRange(state.Notes.Where(n => !report.Notes.Contains(n)));
                report.ArtStopReason = state.StopReason;
                report.SelectedArtEpoch = state.SelectedArtEpoch;
                if (state.Schedule is not null) schedule = state.Schedule;
                if (planner is not null && state.Planner is not null) planner = new BudgetPlanner(planner.Settings, state.Planner, planner.Policy);
                // The clock counts this session from Execute's start (loading included); earlier sessions come from the checkpoint.
                secondsBefore = state.TrainingSeconds ?? state.Epochs.Sum(e => e.Seconds);
                report.Notes.Add($"Resumed from '{Path.GetFileName(path)}' at epoch {epoch} ({phase}, phase epoch {phaseEpoch}).");
                resumedFrom = Path.GetFileName(path);
                // The per-phase counts of a resumed run: the phases before the current one ran to their recorded lengths.
                warmupDone = state.Epochs.Count(e => e.Phase == TrainingPhase.Warmup);
                artDone = state.Epochs.Count(e => e.Phase == TrainingPhase.Art);
                fineTuneDone = state.Epochs.Count(e => e.Phase == TrainingPhase.FineTune);
                owner.log?.Invoke(report.Notes[^1]);
            }
            finally
            {
                loaded.Dispose();
            }
        }

        /// <summary>Clones the tensors under a prefix into a new dictionary keyed without it.</summary>
        private static Dictionary<string, Tensor> Take(Dictionary<string, Tensor> all, string prefix) =>
            all.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
               .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value.clone());
    }
}
