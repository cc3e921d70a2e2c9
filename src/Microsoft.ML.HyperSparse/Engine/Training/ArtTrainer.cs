using System.Globalization;
using System.Diagnostics;
using Microsoft.ML.HyperSparse.Engine.Data;
using Microsoft.ML.HyperSparse.Engine.Models;
using Microsoft.ML.HyperSparse.Engine.Native;
using Microsoft.ML.HyperSparse.Engine.Pruning;
using Microsoft.ML.HyperSparse.Engine.Regularization;
using Microsoft.ML.HyperSparse.Onnx;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Microsoft.ML.HyperSparse.Network;

namespace Microsoft.ML.HyperSparse.Engine.Training;

/// <summary>A trained, pruned network with its mask and report. Dispose releases the tensors.</summary>
internal sealed class TrainingResult : IDisposable
{
    public required ImageClassifier Model { get; init; }
    public required PruningMask Mask { get; init; }
    public required TrainingReport Report { get; init; }
    public required Normalization Normalization { get; init; }

    /// <summary>The trained network for the ONNX writer, with the layers kept dense marked not prunable.</summary>
    /// <param name="inputName">The graph input's name.</param>
    /// <param name="inputChannels">The graph input's channels when the images had fewer than the network (1: replicated); null = the network's.</param>
    public NetworkDescription DescribeNetwork(string inputName, int? inputChannels = null) => Model.DescribeNetwork(inputName, Normalization,
        Report.Layers.Where(l => l.KeptDense).Select(l => LayerSelection.LayerName(l.Name)).ToHashSet(StringComparer.Ordinal), inputChannels);

    public void Dispose()
    {
        Mask.Dispose();
        Model.Dispose();
    }
}

/// <summary>
/// Runs the paper's schedule on raw tensors: dense warm-up, Adaptive Regularized Training with a per-epoch magnitude-prune
/// probe and the windowed stop rule, the selected pruned copy, then masked fine-tuning with a fresh optimiser and step
/// decay. <see cref="PruningMethod.OneShotMagnitude"/> runs the same loop without ART.
/// </summary>
internal sealed partial class ArtTrainer
{
    private readonly TrainingOptions options;
    private readonly Action<EpochRecord>? onEpoch;
    private readonly Action<string>? log;

    /// <summary>The regulariser ART uses instead of the one <see cref="TrainingOptions.Regularizer"/> names (a test seam); null = that one.</summary>
    internal WeightRegularizer? Regularizer { get; init; }

    /// <summary>Receives progress as data: the start (or resume), every finished epoch, the end of ART.</summary>
    internal Action<TrainingEvent>? Observer { get; init; }

    /// <summary>The probe's loader draws its augmentation from the run's seed plus this (its own stream, not the training batches').</summary>
    internal const int ProbeSeedOffset = 7919;

    /// <summary>Batch size of the probe (no gradients, so larger batches than training's cost no memory for backward).</summary>
    internal static int ProbeBatchSize(TrainingOptions options) => Math.Max(options.BatchSize, 256);

    /// <summary>
    /// The probe's batch size instead of <see cref="ProbeBatchSize"/> (a benchmark seam; null = that). The probe's images and
    /// their augmentation draws do not depend on it, only how many go through the network at once.
    /// </summary>
    internal int? ProbeBatch { get; init; }

    public ArtTrainer(TrainingOptions options, Action<EpochRecord>? onEpoch = null, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        this.options = options;
        this.onEpoch = onEpoch;
        this.log = log;
    }

    public TrainingResult Train(ImageDataset train, ImageDataset? validation, Normalization normalization, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(normalization);
        if (train.Count == 0) throw new ArgumentException("The training set is empty.", nameof(train));
        if (normalization.Channels != train.Channels)
            throw new ArgumentException($"Normalization has {normalization.Channels} channels but the images have {train.Channels}.", nameof(normalization));
        if (validation is not null && (validation.Channels, validation.Height, validation.Width) != (train.Channels, train.Height, train.Width))
            throw new ArgumentException(
                $"Validation images are {validation.Channels}×{validation.Height}×{validation.Width} but training images are {train.Channels}×{train.Height}×{train.Width}.",
                nameof(validation));

        TorchRuntime.EnsureLoaded();
        TorchRuntime.TuneAllocatorForTraining(options.TuneAllocator);
        torch.set_num_threads(options.Threads ?? Environment.ProcessorCount);

        var shape = new ImageShape(train.Channels, train.Height, train.Width);
        torch.random.manual_seed(options.Seed);
        var model = ModelFactory.Create(options.Architecture, shape, train.ClassCount);
        Pretrained.PretrainedLoad? loaded = null;
        try
        {
            if (options.Pretrained is { } start)
            {
                var weights = start.Weights ?? throw new ArgumentException($"The pretrained start '{start.Source}' carries no weights.", nameof(options));
                // Resuming takes every weight from the checkpoint; the load still checks the source fits this network.
                loaded = Pretrained.PretrainedLoader.Apply((ImageNetResNet)model, weights, start.KeepHead);
            }
            // Before the optimiser exists, so its momentum buffers take the same strides.
            if (options.ChannelsLast) model.SetChannelsLast(true);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        var run = new Run(this, model, train, validation, normalization, cancellation) { Loaded = loaded };
        try
        {
            return run.Execute();
        }
        catch
        {
            run.DisposeAll();
            model.Dispose();
            throw;
        }
    }

    /// <summary>The mutable state of one training run (what a checkpoint saves).</summary>
    private sealed partial class Run
    {
        private readonly ArtTrainer owner;
        private readonly TrainingOptions options;
        private readonly ImageClassifier model;
        /// <summary>Layer names kept dense (without ".weight"): outside the regulariser, the threshold and the mask.</summary>
        private readonly HashSet<string> keptDense;
        /// <summary>The pruned layers: every prunable layer except those kept dense. κ, the regulariser and the mask apply to these.</summary>
        private readonly IReadOnlyList<PrunableLayer> layers;
        private readonly IReadOnlyList<Tensor> weights;
        private readonly ImageDataset train;
        private readonly BatchLoader trainLoader;
        private readonly BatchLoader probeLoader;
        private readonly BatchLoader? validationLoader;
        private readonly Normalization normalization;
        private readonly CancellationToken cancellation;
        private readonly TrainingReport report;
        private ImageClassifier? probe;
        /// <summary>The bfloat16 compute copy when <see cref="TrainingOptions.Precision"/> is bfloat16; null in float32.</summary>
        private BFloat16Replica? bf16;
        private Sgd sgd;
        private ArtStopRule<Snapshot> stopRule;
        /// <summary>Phase lengths, LR steps and λ path: the options' values, or what the budget planner makes of them.</summary>
        private TrainingSchedule schedule;
        private BudgetPlanner? planner;
        /// <summary>Training time: since <see cref="Execute"/> started, plus what earlier sessions used (from the checkpoint).</summary>
        private readonly Stopwatch clock = new();
        private double secondsBefore;

        private TrainingPhase phase = TrainingPhase.Warmup;
        private int epoch;
        private int phaseEpoch;
        private PruningMask? mask;
        private long epochStarted;
        /// <summary>Epochs finished per phase (the phase's own counter restarts; these are for progress).</summary>
        private int warmupDone, artDone, fineTuneDone;
        /// <summary>The checkpoint a resumed run started from, for the Started event.</summary>
        private string? resumedFrom;
        /// <summary>Planning decisions not yet handed to the observer.</summary>
        private readonly List<PlanningDecision> pendingDecisions = new();

        public Run(ArtTrainer owner, ImageClassifier model, ImageDataset train, ImageDataset? validation, Normalization normalization, CancellationToken cancellation)
        {
            this.owner = owner;
            options = owner.options;
            this.model = model;
            this.train = train;
            this.normalization = normalization;
            this.cancellation = cancellation;
            var all = model.PrunableLayers();
            keptDense = LayerSelection.Resolve(all.Select(l => l.Name).ToList(), options.KeepDenseLayers, options.Architecture.ToString(),
                nameof(TrainingOptions.KeepDenseLayers)).ToHashSet(StringComparer.Ordinal);
            layers = PrunedLayers(model);
            weights = layers.Select(l => (Tensor)l.Weight).ToList();
            var augmentation = new Augmentation(options.CropPadding, options.HorizontalFlip);
            trainLoader = new BatchLoader(train, options.BatchSize, normalization, augmentation, shuffle: true, options.Seed);
            // The reference measures the pruned copy on the training loader, augmentation included, in eval mode.
            // Through ONNX Runtime the graph normalises, so that loader yields raw pixels (scale 1, mean 0, std 1): the same crops
            // and flips from the same stream, the padding a raw 0 as before normalisation.
            probeLoader = new BatchLoader(train, owner.ProbeBatch ?? ProbeBatchSize(options),
                options.Probe == ProbeRuntime.OnnxRuntime ? Normalization.ScaleOnly(train.Channels, 1f) : normalization,
                augmentation, shuffle: false, options.Seed + ProbeSeedOffset);
            if (validation is not null)
                validationLoader = new BatchLoader(validation, Math.Max(options.BatchSize, 256), normalization, Augmentation.None, shuffle: false, options.Seed);
            sgd = NewOptimizer();
            if (options.Precision == TrainingPrecision.BFloat16) bf16 = new BFloat16Replica(model, options.Architecture, options.ChannelsLast);
            stopRule = new ArtStopRule<Snapshot>(options.StopWindowHalfSize);
            schedule = TrainingSchedule.From(options);
            if (options.TimeBudget is not null) planner = new BudgetPlanner(BudgetSettings.From(options, (train.Count + options.BatchSize - 1) / options.BatchSize));
            report = new TrainingReport
            {
                Architecture = options.Architecture.ToString(),
                Method = options.Method.ToString(),
                Regularizer = options.Method == PruningMethod.Art ? options.Regularizer.ToString() : "None",
                RequestedPruningRate = options.PruningRate,
                Options = options,
            };
            if (bf16?.Float32Note is { } float32Note)
            {
                report.Notes.Add(float32Note);
                owner.log?.Invoke(float32Note);
            }
        }

        private Sgd NewOptimizer() => new(model.parameters(), options.Momentum, options.WeightDecay);

        /// <summary>What the pretrained start copied into the model (null when training from scratch).</summary>
        public Pretrained.PretrainedLoad? Loaded { get; init; }

        /// <summary>
        /// Train mode for <paramref name="network"/>, with batch norm left in eval mode when its statistics are frozen. In the
        /// head stage of a pretrained start the backbone is frozen: batch norm in eval mode, and only the classifier's
        /// parameters take gradients (autograd does not run through the backbone).
        /// </summary>
        private void TrainMode(ImageClassifier network)
        {
            network.train();
            // The head stage freezes the whole backbone, its batch-norm statistics included.
            var headStage = options.Pretrained is not null && phase == TrainingPhase.Warmup;
            if (options.FreezeBatchNormStatistics || headStage)
                foreach (var (_, module) in network.named_modules())
                    if (module is TorchSharp.Modules.BatchNorm2d norm) norm.eval();
            if (ReferenceEquals(network, model) && options.Pretrained is not null)
            {
                var headOnly = phase == TrainingPhase.Warmup;
                foreach (var (name, parameter) in model.named_parameters())
                    parameter.requires_grad = !headOnly || Pretrained.PretrainedLoader.HeadTensors.Contains(name);
            }
        }

        /// <summary>A network's prunable layers minus those kept dense (the model's, or the probe's).</summary>
        private List<PrunableLayer> PrunedLayers(ImageClassifier network) =>
            network.PrunableLayers().Where(l => !keptDense.Contains(l.LayerName)).ToList();

        private double ElapsedSeconds => secondsBefore + clock.Elapsed.TotalSeconds;

        public TrainingResult Execute()
        {
            clock.Start();
            // A κ that keeps no weight, or a per-layer minimum it cannot pay for, fails now, not after the warm-up (ART's probe
            // and the one-shot prune use the same rule).
            var total = layers.Sum(l => l.Count);
            MagnitudePruning.CheckKeepsAWeight(total, options.PruningRate);
            MagnitudePruning.CheckMinimumPerLayer(MagnitudePruning.KeptCount(total, options.PruningRate),
                layers.Sum(l => Math.Min(options.MinWeightsPerLayer, l.Count)), options.MinWeightsPerLayer, layers.Count);
            TrainMode(model);
            if (Loaded is { } loaded && options.Pretrained?.Weights is { } weights)
                report.Pretrained = new PretrainedReport(weights.Source, weights.Format, weights.Preprocessing.Description, loaded.LoadedTensors,
                    loaded.LoadedWeights, loaded.NewLayers, loaded.ReversedChannels, ReplicatedGrayscale: train.Channels != weights.InputChannels);
            if (options.CheckpointDirectory is not null)
            {
                Directory.CreateDirectory(options.CheckpointDirectory);
                // A process killed inside a checkpoint write leaves its temporary file; the checkpoints themselves are whole.
                foreach (var file in new Checkpoints.CheckpointDirectory(options.CheckpointDirectory).RemoveLeftoverTemporaryFiles())
                    owner.log?.Invoke($"Removed '{file}', the temporary file of an interrupted checkpoint write.");
                if (options.Resume) TryResume();
            }
            var regularizer = options.Method == PruningMethod.Art
                ? owner.Regularizer ?? WeightRegularizer.Create(options.Regularizer, options.PruningRate)
                : null;
            if (planner is not null)
            {
                planner.Start(schedule);
                PublishPlan();
                // A resumed run shows where its plan stands before the next epoch ends.
                if (planner.State.ElapsedSeconds > 0) owner.log?.Invoke(planner.Status(schedule, phase));
            }

            Emit(TrainingEventKind.Started, null);
            while (true)
            {
                cancellation.ThrowIfCancellationRequested();
                epochStarted = Stopwatch.GetTimestamp();
                switch (phase)
                {
                    case TrainingPhase.Warmup when phaseEpoch >= schedule.WarmupEpochs:
                        if (options.Method == PruningMethod.OneShotMagnitude) BeginFineTune(MagnitudePruning.Prune(layers, options.PruningRate, options.MinWeightsPerLayer), null);
                        else { phase = TrainingPhase.Art; phaseEpoch = 0; }
                        continue;
                    case TrainingPhase.Warmup:
                        FinishEpoch(RunEpoch(options.LearningRate, null, 0), options.LearningRate, 0, null);
                        break;
                    case TrainingPhase.Art:
                        RunArtEpoch(regularizer!);
                        break;
                    case TrainingPhase.FineTune when phaseEpoch >= schedule.FineTuneEpochs:
                        return Finish();
                    case TrainingPhase.FineTune:
                        var rate = ArtSchedule.StepLearningRate(options.LearningRate, options.LearningRateDecay, schedule.LearningRateSteps, phaseEpoch);
                        FinishEpoch(RunEpoch(rate, null, 0), rate, 0, null);
                        break;
                }
            }
        }

        private void RunArtEpoch(WeightRegularizer regularizer)
        {
            // λ_init · η^(e − E_warm) while η is constant; a budget planner may change η between epochs (TrainingSchedule).
            var lambda = schedule.Lambda(phaseEpoch);
            var artEpoch = phaseEpoch;
            // λ grows geometrically; past float32 the regulariser's gradient is ±∞ or NaN, so stop before the epoch runs.
            if (!double.IsFinite(lambda) || lambda > float.MaxValue)
                throw TrainingDivergedException.LambdaOutOfRange(epoch, artEpoch, lambda, options.LearningRate, DivergenceSettings);
            var (loss, denseAccuracy) = RunEpoch(options.LearningRate, regularizer, lambda);

            // Probe: a magnitude-pruned copy of the model, measured on the (augmented) training data in eval mode.
            var probeStarted = Stopwatch.GetTimestamp();
            probe ??= ModelFactory.Create(options.Architecture, model.Input, model.ClassCount);
            CopyState(model, probe);
            MagnitudePruning.Prune(PrunedLayers(probe), options.PruningRate, options.MinWeightsPerLayer).Dispose();
            var prunedAccuracy = Probe(lambda);
            var entry = new ArtStopRule<Snapshot>.Entry(artEpoch, prunedAccuracy, Snapshot.Of(probe));
            var probeSeconds = Stopwatch.GetElapsedTime(probeStarted).TotalSeconds;
            var (stop, evicted) = stopRule.Push(entry, denseAccuracy);
            foreach (var old in evicted) if (!stopRule.Holds(old)) old.Snapshot.Dispose();

            // Record the epoch (dense model) before switching phase, so the report shows it as ART; the planner may end ART here.
            FinishEpoch((loss, denseAccuracy), options.LearningRate, lambda, prunedAccuracy, stop, advanceCheckpoint: false, probeSeconds);
            var capReached = artEpoch + 1 >= schedule.MaxArtEpochs;
            if (stop || capReached)
            {
                report.ArtStopReason = stop ? ArtStopReason.StopRuleFired : ArtStopReason.CapReached;
                Emit(TrainingEventKind.ArtEnded, null);
                // With no improvement at all (every probe at 0 %), the newest pruned copy is the only sensible choice.
                var chosen = stopRule.Best ?? entry;
                report.SelectedArtEpoch = chosen.ArtEpoch;
                var forcedBy = planner is not null && (options.FixedKnobs & ScheduleKnobs.MaxArtEpochs) == 0 ? " (set by the time budget)" : "";
                if (!stop)
                    report.Notes.Add($"ART stopped at the cap of {schedule.MaxArtEpochs} epochs{forcedBy} before its stop rule fired " +
                                     $"(pruned train accuracy {prunedAccuracy:F2} % vs dense {denseAccuracy:F2} %); the best pruned copy so far was fine-tuned.");
                owner.log?.Invoke(stop
                    ? $"ART stop rule fired after {artEpoch + 1} ART epochs; fine-tuning the pruned copy of ART epoch {chosen.ArtEpoch + 1} (1-based)."
                    : $"ART cap of {schedule.MaxArtEpochs} epochs{forcedBy} reached without the stop rule firing; pruning anyway (pruned copy of ART epoch {chosen.ArtEpoch + 1}, 1-based).");
                chosen.Snapshot.LoadInto(model);
                BeginFineTune(MaskFromZeros(layers), null);
                ClearStopRule();
                SaveCheckpoint();
                return;
            }
            SaveCheckpoint();
        }

        private void BeginFineTune(PruningMask newMask, string? note)
        {
            mask?.Dispose();
            mask = newMask;
            mask.ApplyToWeights(layers);
            if (note is not null) report.Notes.Add(note);
            // The reference creates a fresh SGD for fine-tuning, so momentum restarts.
            sgd.Dispose();
            sgd = NewOptimizer();
            phase = TrainingPhase.FineTune;
            phaseEpoch = 0;
        }

        private void ClearStopRule()
        {
            foreach (var e in stopRule.Window) e.Snapshot.Dispose();
            stopRule.Best?.Snapshot.Dispose();
            stopRule = new ArtStopRule<Snapshot>(options.StopWindowHalfSize);
        }

        /// <summary>One pass over the shuffled, augmented training data. Returns mean loss and running top-1 (%).</summary>
        private (double Loss, double Accuracy) RunEpoch(double learningRate, WeightRegularizer? regularizer, double lambda)
        {
            TrainMode(model);
            if (bf16 is not null) TrainMode(bf16.Network);
            double lossSum = 0;
            long correct = 0, seen = 0;
            foreach (var batch in trainLoader.Epoch(epoch))
            {
                cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var (images, labels) = batch.ToTensors();
                if (options.ChannelsLast && images.shape[1] > 1) images = ImageClassifier.ToChannelsLast(images);
                var logits = bf16 is null ? model.call(images) : bf16.Forward(images);
                var loss = F.cross_entropy(logits, labels);
                // The first non-finite loss ends the run: its gradients would turn every weight into NaN, and a NaN weight is
                // never ≤ τ, so pruning would keep it and Fit would return a model that scores nothing.
                var lossValue = loss.item<float>();
                if (!float.IsFinite(lossValue))
                    throw TrainingDivergedException.NonFinite(epoch, phase, lambda, learningRate, "loss", TrainingDivergedException.Show(lossValue), DivergenceSettings);
                sgd.ZeroGrad();
                bf16?.ZeroGrad();
                loss.backward();
                // Mixed precision: the float32 weights get their bfloat16 copy's gradients before anything reads them.
                bf16?.CopyGradientsToMaster();
                // Only the pruned layers' weights: layers kept dense get no regulariser gradient.
                if (regularizer is not null && lambda != 0) regularizer.AddToGradients(weights, lambda);
                if (mask is not null)
                {
                    // Fine-tune rule: after backward, before the step, zero the pruned weights and their gradients.
                    mask.ApplyToGradients(layers);
                    mask.ApplyToWeights(layers);
                }
                sgd.Step(learningRate);
                lossSum += lossValue * batch.Count;
                correct += logits.argmax(1).eq(labels).sum().item<long>();
                seen += batch.Count;
            }
            // The last batch's step can overflow a weight without any loss showing it yet.
            CheckFinite(lambda, learningRate);
            return (lossSum / seen, 100.0 * correct / seen);
        }

        /// <summary>λ_init, η and the learning rate a divergence error suggests lowering.</summary>
        private TrainingDivergedException.Settings DivergenceSettings => new(options.LearningRate, schedule.LambdaInit, schedule.LambdaGrowth);

        /// <summary>
        /// Every floating-point parameter and buffer (batch-norm statistics) of the model must be finite at the end of an
        /// epoch; otherwise the run has diverged. One reduction per tensor, negligible next to an epoch.
        /// </summary>
        private void CheckFinite(double lambda, double learningRate)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            foreach (var (name, tensor) in model.state_dict())
            {
                if (!tensor.is_floating_point() || tensor.isfinite().all().item<bool>()) continue;
                var bad = tensor.isfinite().logical_not().sum().item<long>();
                throw TrainingDivergedException.NonFinite(epoch, phase, lambda, learningRate, name,
                    string.Create(CultureInfo.InvariantCulture, $"NaN or ±Infinity in {bad:N0} of {tensor.numel():N0} entries"), DivergenceSettings);
            }
        }

        /// <summary>Top-1 (%) of the pruned copy <see cref="probe"/> on one epoch of the probe loader, where the options say.</summary>
        private double Probe(double lambda)
        {
            if (options.Probe == ProbeRuntime.Torch)
                return Evaluate(probe!, probeLoader, epoch, "probe loss", lambda, options.LearningRate).Accuracy;
            var (correct, seen) = OnnxProbe.Score(probe!, normalization, probeLoader, epoch, torch.get_num_threads(),
                value => TrainingDivergedException.NonFinite(epoch, phase, lambda, options.LearningRate, "probe logits",
                    TrainingDivergedException.Show(value), DivergenceSettings),
                cancellation);
            return 100.0 * correct / seen;
        }

        /// <summary>Loss and top-1 (%) of <paramref name="network"/> in eval mode; a non-finite loss (named <paramref name="lossName"/>) is a divergence.</summary>
        private (double Loss, double Accuracy) Evaluate(ImageClassifier network, BatchLoader loader, int loaderEpoch, string lossName, double lambda, double learningRate)
        {
            network.eval();
            try
            {
                using var _ = no_grad();
                double lossSum = 0;
                long correct = 0, seen = 0;
                foreach (var batch in loader.Epoch(loaderEpoch))
                {
                    cancellation.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    var (images, labels) = batch.ToTensors();
                    var logits = network.call(images);
                    var loss = F.cross_entropy(logits, labels).item<float>();
                    if (!float.IsFinite(loss))
                        throw TrainingDivergedException.NonFinite(epoch, phase, lambda, learningRate, lossName, TrainingDivergedException.Show(loss), DivergenceSettings);
                    lossSum += loss * batch.Count;
                    correct += logits.argmax(1).eq(labels).sum().item<long>();
                    seen += batch.Count;
                }
                return (lossSum / seen, 100.0 * correct / seen);
            }
            finally
            {
                TrainMode(network);
            }
        }

        private void FinishEpoch((double Loss, double Accuracy) result, double learningRate, double lambda, double? pruned,
            bool stopRuleFired = false, bool advanceCheckpoint = true, double? probeSeconds = null)
        {
            var record = new EpochRecord
            {
                Phase = phase,
                Epoch = epoch,
                PhaseEpoch = phaseEpoch,
                LearningRate = learningRate,
                Lambda = lambda,
                TrainLoss = result.Loss,
                TrainAccuracy = result.Accuracy,
                PrunedTrainAccuracy = pruned,
                ValidationAccuracy = validationLoader is null ? null : Evaluate(model, validationLoader, 0, "validation loss", lambda, learningRate).Accuracy,
                Sparsity = CurrentSparsity(),
                Seconds = Stopwatch.GetElapsedTime(epochStarted).TotalSeconds,
                ProbeSeconds = probeSeconds,
            };
            report.Epochs.Add(record);
            epoch++;
            phaseEpoch++;
            switch (record.Phase)
            {
                case TrainingPhase.Warmup: warmupDone = phaseEpoch; break;
                case TrainingPhase.Art: artDone = phaseEpoch; break;
                default: fineTuneDone = phaseEpoch; break;
            }
            if (planner is not null)
            {
                // Between epochs only: the planner may change the phase lengths, η and the LR steps still ahead.
                planner.AfterEpoch(new EpochObservation(record.Phase, record.PhaseEpoch, ElapsedSeconds, record.TrainAccuracy,
                    record.PrunedTrainAccuracy, record.Lambda, stopRuleFired), schedule);
                PublishPlan();
                owner.log?.Invoke(planner.Status(schedule, phase));
            }
            owner.onEpoch?.Invoke(record);
            Emit(TrainingEventKind.EpochFinished, record);
            if (advanceCheckpoint) SaveCheckpoint();
            ReleaseGarbage();
        }

        /// <summary>
        /// A full collection at the end of every epoch: TorchSharp's per-operation tensor objects that escaped a dispose scope
        /// hold native memory until their finalizers run, and over an epoch of thousands of steps the GC may not get round to
        /// them, so resident memory would creep up by ≈ 0.5 MB per epoch (build/bench-memory.sh). Then the native heap's free
        /// memory goes back to the OS. Costs milliseconds per epoch.
        /// </summary>
        private static void ReleaseGarbage()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            Native.TorchRuntime.TrimNativeHeap();
        }

        /// <summary>Logs the planner's new decisions; its warnings also become report notes.</summary>
        private void PublishPlan()
        {
            foreach (var decision in planner!.TakeNew())
            {
                pendingDecisions.Add(decision);
                owner.log?.Invoke("Plan: " + decision);
                if (decision.IsWarning) report.Notes.Add("Time budget: " + decision.Reason);
            }
        }

        private void Emit(TrainingEventKind kind, EpochRecord? record)
        {
            if (owner.Observer is { } observer)
                observer(new TrainingEvent
                {
                    Kind = kind,
                    Epoch = record,
                    Phase = record?.Phase ?? phase,
                    EpochsDone = epoch,
                    WarmupEpochsDone = warmupDone,
                    ArtEpochsDone = artDone,
                    FineTuneEpochsDone = fineTuneDone,
                    WarmupEpochs = schedule.WarmupEpochs,
                    // Once ART has ended, its length is what it ran (a budget's cap may have moved on paper since).
                    MaxArtEpochs = options.Method == PruningMethod.OneShotMagnitude ? 0
                        : report.ArtStopReason == ArtStopReason.NotApplicable ? schedule.MaxArtEpochs : artDone,
                    FineTuneEpochs = schedule.FineTuneEpochs,
                    ArtStopReason = report.ArtStopReason,
                    TrainingSeconds = ElapsedSeconds,
                    ResumedFrom = resumedFrom,
                    Decisions = pendingDecisions.ToArray(),
                });
            pendingDecisions.Clear();
        }

        private double CurrentSparsity()
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            long zeros = 0, total = 0;
            foreach (var w in weights)
            {
                zeros += w.eq(0).sum().item<long>();
                total += w.numel();
            }
            return (double)zeros / total;
        }

        private TrainingResult Finish()
        {
            mask ??= MaskFromZeros(layers);
            var masks = mask.Layers.ToDictionary(m => m.Name, m => m.Mask, StringComparer.Ordinal);
            report.Layers = model.PrunableLayers().Select(l => masks.TryGetValue(l.Name, out var m)
                ? new LayerSparsity(l.Name, l.Shape, l.Count, PruningMask.KeptIn(m), KeptDense: false)
                : new LayerSparsity(l.Name, l.Shape, l.Count, NonZero(l.Weight), KeptDense: true)).ToList();
            foreach (var collapsed in report.CollapsedLayers)
            {
                report.Notes.Add($"Layer collapse: '{collapsed.Name}' kept none of its {collapsed.Total:N0} weights at κ = {options.PruningRate}, so the " +
                                 "network is disconnected there and its output no longer depends on the image. Set MinWeightsPerLayer " +
                                 "(CLI: --min-weights-per-layer) to keep some weights in every layer at the same total sparsity.");
                owner.log?.Invoke("Warning: " + report.Notes[^1]);
            }
            report.Budget = planner?.Summary(schedule, ElapsedSeconds);
            // Callers get contiguous NCHW tensors whatever the training layout.
            model.SetChannelsLast(false);
            var contiguousMask = mask.ContiguousCopy();
            var result = new TrainingResult { Model = model, Mask = contiguousMask, Report = report, Normalization = normalization };
            DisposeAll();
            model.eval();
            return result;
        }

        public void DisposeAll()
        {
            ClearStopRule();
            probe?.Dispose();
            probe = null;
            bf16?.Dispose();
            bf16 = null;
            sgd.Dispose();
            mask?.Dispose();
            mask = null;
        }

        private static long NonZero(Tensor weight)
        {
            using var count = weight.detach().count_nonzero();
            return count.item<long>();
        }

        private static PruningMask MaskFromZeros(IReadOnlyList<PrunableLayer> layers)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            // A magnitude-pruned copy keeps exactly its non-zero weights (kept means |w| > τ ≥ 0).
            return new PruningMask(layers.Select(l => (l.Name, l.Weight.detach().ne(0).to_type(ScalarType.Float32).MoveToOuterDisposeScope())).ToList());
        }

        private static void CopyState(nn.Module source, nn.Module target)
        {
            using var _ = no_grad();
            var to = target.state_dict();
            foreach (var (name, tensor) in source.state_dict()) to[name].copy_(tensor);
        }
    }

    /// <summary>A deep copy of a module's state dict (parameters and buffers).</summary>
    internal sealed class Snapshot : IDisposable
    {
        private Snapshot(Dictionary<string, Tensor> tensors) => Tensors = tensors;

        public Dictionary<string, Tensor> Tensors { get; }

        public static Snapshot Of(nn.Module module)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            return new Snapshot(module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().MoveToOuterDisposeScope()));
        }

        public static Snapshot From(Dictionary<string, Tensor> tensors) => new(tensors);

        public void LoadInto(nn.Module module)
        {
            using var _ = no_grad();
            foreach (var (name, tensor) in module.state_dict())
            {
                if (!Tensors.TryGetValue(name, out var saved))
                    throw new InvalidDataException($"The saved state has no tensor '{name}'.");
                tensor.copy_(saved);
            }
        }

        public void Dispose()
        {
            foreach (var t in Tensors.Values) t.Dispose();
            Tensors.Clear();
        }
    }
}
